// --device cpu | cuda | cuda-sim, one definition for every command that computes
// (pretrain, finetune, validate, tokenize, train-classifier, debug-step).
//
//   cpu       the CPU backend (the default; as before --device existed)
//   cuda      Device::cuda on a real GPU: `mapet` built with nvcc. Without a GPU it
//             fails at once, naming the CUDA error; never a silent fall back to the CPU
//   cuda-sim  Device::cuda with every CUDA kernel run by the SIMT runtime on the CPU
//             (host memory): `mapet-sim`, the same commands linked against the simt
//             backend. `mapet --device cuda-sim ...` runs mapet-sim from mapet's own
//             folder with the same arguments (exec_for_device).
//
// Which backend a binary has is device::linked_backend() (engine/cuda/runtime.h).
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "engine/cuda/upload.h"
#include "engine/tensor.h"

namespace mapet::apps::train {

struct DeviceChoice {
  std::string name = "cpu";  // as given: cpu, cuda, cuda-sim
  Device device = Device::cpu;
  bool on_cpu() const { return device == Device::cpu; }
};

struct DeviceFlag {
  std::string name = "cpu";

  void add_to(CLI::App* c);
  // Checks that this binary can run `name` and selects the GPU (or the simulated one). An Error that says
  // why not otherwise: no GPU (with the CUDA error), no CUDA toolkit in the build, cuda in mapet-sim.
  // cuda-sim in mapet (a config file's device): runs mapet-sim instead (one process only), never returns.
  DeviceChoice resolve() const;
};

// In main(), before anything else: when this is not the simt build and argv asks for --device cuda-sim,
// replaces the process with mapet-sim from this executable's folder, same arguments (an Error if it is
// missing). Otherwise returns; the arguments are kept for resolve().
void exec_for_device(int argc, char** argv);

// The mapet-sim that `mapet --device cuda-sim` runs: next to this executable.
std::string sim_binary_path();

// Sends each batch where the model is: on the CPU it hands the tensors back;
// on a device it stages them in pinned memory and copies them on a stream of
// their own (device::Uploader), so the copy of the next batch overlaps the
// step still running. What it returns is valid for one step (until the upload
// after next).
class BatchMover {
 public:
  explicit BatchMover(Device d);
  std::vector<Tensor> operator()(const std::vector<Tensor>& host);

 private:
  Device device_;
  std::unique_ptr<device::Uploader> up_;
};

// "cpu", or for Device::cuda "cuda" (a GPU) or "cuda-sim" (this is mapet-sim).
std::string device_label(Device d);
// For the progress line: "" on the CPU, else e.g. "cuda-sim 12.3/40.1 MiB" (device allocator: in use / peak).
std::string device_field(Device d);
// The end of a run off the CPU: the host allocator's statistics and the device allocator's (a run on the
// CPU prints neither, as before --device).
std::string memory_summary(Device d);

}  // namespace mapet::apps::train

#include "apps/train/device.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "engine/allocator.h"
#include "engine/cuda/allocator.h"
#include "engine/cuda/runtime.h"
#include "engine/distributed/communicator.h"

namespace mapet::apps::train {

namespace {

namespace fs = std::filesystem;

std::vector<std::string>& saved_args() {
  static std::vector<std::string> args;
  return args;
}

bool sim_build() { return std::string(device::linked_backend()) == "sim"; }

[[noreturn]] void exec_sim(const std::vector<std::string>& args) {
  const std::string sim = sim_binary_path();
  if (!fs::exists(sim))
    throw Error("--device cuda-sim runs in mapet-sim (the SIMT build: every CUDA kernel on the CPU), but '" + sim +
                "' does not exist: build it (ninja -C build mapet-sim; it is built with mapet where the CUDA headers "
                "and Boost.Context are found), or use --device cpu");
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(sim.c_str()));
  for (size_t i = 1; i < args.size(); ++i) argv.push_back(const_cast<char*>(args[i].c_str()));
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  ::execv(sim.c_str(), argv.data());
  throw Error("--device cuda-sim: cannot run '" + sim + "': " + std::strerror(errno));
}

std::string mib(size_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", double(bytes) / (1 << 20));
  return b;
}

}  // namespace

void DeviceFlag::add_to(CLI::App* c) {
  c->add_option("--device", name,
                "cpu; cuda (a GPU: mapet built with nvcc); cuda-sim (the CUDA backend with every kernel run on the "
                "CPU by the SIMT runtime: mapet-sim, which mapet runs for it)")
      ->check(CLI::IsMember({"cpu", "cuda", "cuda-sim"}));
}

std::string sim_binary_path() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) self = saved_args().empty() ? fs::path("mapet") : fs::path(saved_args()[0]);
  return (self.parent_path() / "mapet-sim").string();
}

void exec_for_device(int argc, char** argv) {
  saved_args().assign(argv, argv + argc);
  if (sim_build()) return;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--device=cuda-sim" || (a == "--device" && i + 1 < argc && std::string(argv[i + 1]) == "cuda-sim"))
      exec_sim(saved_args());
  }
}

DeviceChoice DeviceFlag::resolve() const {
  DeviceChoice d;
  d.name = name;
  const std::string backend = device::linked_backend();
  if (name == "cpu") return d;
  if (name == "cuda") {
    if (backend == "sim")
      throw Error("--device cuda: this is the SIMT build (mapet-sim), whose Device::cuda runs every kernel on the CPU; "
                  "use --device cuda-sim here, or mapet (the nvcc build) --device cuda for a GPU");
    if (backend == "none")
      throw Error("--device cuda: this mapet was built without a CUDA backend (no CUDA toolkit when it was "
                  "configured); rebuild where nvcc is installed, or use --device cpu or cuda-sim");
    try {
      device::select(0, "--device cuda");
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + " (no silent fall back to the CPU: use --device cpu, or --device cuda-sim "
                                          "to run the CUDA backend on the CPU)");
    }
  } else if (name == "cuda-sim") {
    if (backend != "sim") {
      // Asked for by a config file (the command line's --device cuda-sim never gets here: exec_for_device).
      if (dist::world().size() > 1)
        throw Error("device cuda-sim (from the config file) runs in mapet-sim: start the ranks with mapet-sim, or give "
                    "--device cuda-sim on the command line");
      std::vector<std::string> args = saved_args();
      if (args.empty()) throw Error("device cuda-sim needs mapet-sim (the SIMT build): run it instead of this program");
      args.push_back("--device");
      args.push_back("cuda-sim");
      exec_sim(args);
    }
    device::select(0, "--device cuda-sim");
  } else {
    throw Error("--device '" + name + "': expected cpu, cuda or cuda-sim");
  }
  d.device = Device::cuda;
  return d;
}

std::string device_label(Device d) {
  if (d == Device::cpu) return "cpu";
  return sim_build() ? "cuda-sim" : "cuda";
}

std::string device_field(Device d) {
  if (d == Device::cpu) return "";
  const AllocatorStats s = device::allocator_stats();
  return device_label(d) + " " + mib(s.bytes_in_use) + "/" + mib(s.peak_in_use) + " MiB";
}

std::string memory_summary(Device d) {
  const AllocatorStats s = host_allocator_stats();
  const size_t n = s.fresh_allocations + s.reused_allocations;
  char line[240];
  std::snprintf(line, sizeof line,
                "host memory: peak %s MiB in use, %s MiB in use now, %s MiB cached; %zu allocations, %.0f%% from the "
                "cache",
                mib(s.peak_in_use).c_str(), mib(s.bytes_in_use).c_str(), mib(s.bytes_cached).c_str(), n,
                n ? 100.0 * double(s.reused_allocations) / double(n) : 0.0);
  std::string out = line;
  if (d != Device::cpu) out += "\n" + device_label(d) + " " + device::allocator_summary();
  return out;
}

BatchMover::BatchMover(Device d) : device_(d) {
  if (d != Device::cpu) up_ = std::make_unique<device::Uploader>();
}

std::vector<Tensor> BatchMover::operator()(const std::vector<Tensor>& host) { return up_ ? up_->upload(host) : host; }

}  // namespace mapet::apps::train

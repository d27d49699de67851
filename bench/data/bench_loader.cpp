// data::Loader throughput: images/s of finished batches (train transform:
// RandomResizedCrop(224) + flip + normalise, batch 64) with 1 and 2 decode
// threads, on an ImageFolder tree. The peer is bench_loader.py (a torch
// DataLoader with num_workers 1 and 2 doing the same); run_loader.sh runs both.
// Usage: bench_loader ROOT [epochs]
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "data/loader.h"

using namespace mapet::data;

static double cpu_seconds() {  // all threads of this process
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s IMAGE_FOLDER [epochs]\n", argv[0]);
    return 2;
  }
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 3;
  Dataset ds = load_image_folder(argv[1]);
  for (int workers : {1, 2}) {
    LoaderOptions o;
    o.batch_size = 64;
    o.workers = workers;
    o.quiet = true;
    Loader loader(ds, o);
    Batch b;
    loader.start_epoch(0);  // warm-up: page cache, thread buffers
    while (loader.next(b)) {
    }
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    int64_t images = 0;
    for (int e = 1; e <= epochs; ++e) {
      loader.start_epoch(e);
      while (loader.next(b)) images += b.images.size(0);
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpu_seconds() - c0;
    std::printf("mapet Loader, %d worker%s: %.0f images/s (wall), %.0f images per CPU-second\n", workers,
                workers > 1 ? "s" : "", images / wall, images / cpu);
  }
  return 0;
}

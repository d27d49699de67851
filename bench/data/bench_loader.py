"""The peer of bench_loader.cpp: a torch DataLoader over torchvision's
ImageFolder with the same train transform (RandomResizedCrop(224, bicubic) +
RandomHorizontalFlip + ToTensor + Normalize), batch 64, shuffled, drop_last,
num_workers 1 and 2 (persistent workers, so worker start-up is not timed).
Images/s of finished batches (wall clock) and images per CPU-second of the
main process and its workers. Usage: bench_loader.py ROOT [epochs]"""
import resource
import sys
import time

import torch
from torchvision import datasets
from torchvision import transforms as T

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def cpu_seconds():
    # Workers are child processes: their CPU time counts once they have exited.
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def main():
    torch.set_num_threads(1)
    root, epochs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    train = T.Compose([T.RandomResizedCrop(224, interpolation=T.InterpolationMode.BICUBIC),
                       T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])
    ds = datasets.ImageFolder(root, transform=train)
    for workers in (1, 2):
        c0 = cpu_seconds()
        dl = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True, drop_last=True, num_workers=workers,
                                         persistent_workers=True)
        for _ in dl:  # warm-up epoch: worker start-up, page cache
            pass
        t0, images = time.perf_counter(), 0
        for _ in range(epochs):
            for x, _ in dl:
                images += x.shape[0]
        wall = time.perf_counter() - t0
        total = images + len(dl) * 64  # the CPU time below includes the warm-up epoch
        del dl  # workers exit; their CPU time becomes visible
        cpu = cpu_seconds() - c0
        print(f"torch DataLoader, {workers} worker{'s' if workers > 1 else ''}: {images / wall:.0f} images/s (wall), "
              f"{total / cpu:.0f} images per CPU-second")


if __name__ == "__main__":
    main()

// One run per output folder: an advisory lock (flock) on <folder>/.lock, held
// for the life of the object. A second run into the same folder fails at once,
// naming the folder and the other run's pid (two runs appending to one
// metrics.jsonl garble it). The kernel drops the lock when its holder dies, so
// a run killed with kill -9 leaves nothing that blocks --resume.
#pragma once
#include <string>

namespace mapet::apps::train {

class FolderLock {
 public:
  // Creates the folder if needed. Throws Error when another process holds it.
  explicit FolderLock(const std::string& folder);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

inline constexpr const char* kLockFile = ".lock";

}  // namespace mapet::apps::train

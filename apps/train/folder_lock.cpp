#include "apps/train/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/tensor.h"

namespace mapet::apps::train {

FolderLock::FolderLock(const std::string& folder) {
  std::filesystem::create_directories(folder);
  const std::string path = (std::filesystem::path(folder) / kLockFile).string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot lock --output '" + folder + "' (" + path + "): " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    char pid[32] = {};
    const ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (e != EWOULDBLOCK) throw Error("cannot lock --output '" + folder + "' (" + path + "): " + std::strerror(e));
    std::string who = n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string();
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
    throw Error("--output '" + folder + "' is in use by another run (pid " + (who.empty() ? "unknown" : who) +
                "): wait for it to finish, or choose another --output");
  }
  // Ours now: say who holds it (for the message above), replacing a dead holder's pid. Should this
  // fail, the lock still holds; only a second run's message would lack the pid.
  const std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, me.data(), me.size(), 0);
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the lock
}

}  // namespace mapet::apps::train

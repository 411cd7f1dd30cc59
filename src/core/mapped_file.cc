#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace moeasr {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_error(MOEASR_ERR_IO, "cannot open ", path, ": ", std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw_error(MOEASR_ERR_IO, "cannot stat ", path, ": ", std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw_error(MOEASR_ERR_IO, path, " is not a regular file");
  }
  // A 32-bit process cannot map a file of 4 GiB or more: say so rather than
  // map a truncated size.
  if (static_cast<unsigned long long>(st.st_size) > static_cast<unsigned long long>(PTRDIFF_MAX)) {
    ::close(fd);
    throw_error(MOEASR_ERR_IO, path, " is ", static_cast<long long>(st.st_size),
                " bytes, more than this process's address space can map");
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    void* p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      throw_error(MOEASR_ERR_IO, "cannot mmap ", path, ": ", std::strerror(e));
    }
    file->data_ = static_cast<const unsigned char*>(p);
  }
  ::close(fd);  // the mapping stays valid after close
  return file;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
}

std::string read_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw_error(MOEASR_ERR_IO, "cannot open ", path, ": ", std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw_error(MOEASR_ERR_IO, path, " is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_error(MOEASR_ERR_IO, "cannot open ", path, ": ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw_error(MOEASR_ERR_IO, "cannot read ", path);
  return ss.str();
}

}  // namespace moeasr

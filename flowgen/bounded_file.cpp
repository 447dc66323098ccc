#include "flowgen/bounded_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace flowgen {

std::string byte_size_text(size_t bytes) {
    if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
    if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
    return std::to_string(bytes) + " bytes";
}

Status read_bounded_file(const std::string& what, const std::string& path, size_t max_bytes, std::string& out) {
    const std::string where = what + " " + path;
    out.clear();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::error(where + ": " + std::strerror(errno));
    // read(2) on a directory fails with EISDIR on Linux, but say it plainly
    // before trying: an empty configuration is not what was meant.
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        return Status::error(where + ": fstat: " + std::strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        return Status::error(where + ": is a directory");
    }
    // Not st_size: a pipe, a FIFO or a character device has none, so the cap
    // is checked on what read() delivers.
    char buffer[16384];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            ::close(fd);
            out.clear();
            return Status::error(where + ": read: " + std::strerror(e));
        }
        if (n == 0) break;
        if (out.size() + static_cast<size_t>(n) > max_bytes) {
            ::close(fd);
            out.clear();
            return Status::error(where + ": larger than the " + byte_size_text(max_bytes) + " limit");
        }
        out.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    return {};
}

}  // namespace flowgen

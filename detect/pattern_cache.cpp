#include "detect/pattern_cache.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

namespace detect {

namespace {

// File layout: the magic line; a u64 key length and the key; then per group
// a u8 (1 = present) and, when present, a u64 length and that many bytes of
// hs_serialize_database output. Lengths in host order: a file is only used
// on the host that wrote it (Hyperscan's platform check enforces it anyway).
constexpr char kMagic[] = "echoflow-hs-cache 2\n";
constexpr char kPrefix[] = "patterns-";
constexpr time_t kStaleSeconds = 30 * 24 * 3600;  // other keys' files unused this long are removed
constexpr time_t kTempSeconds = 3600;             // a temporary file this old was left by a killed run

uint64_t fnv1a(std::string_view data, uint64_t h = 0xcbf29ce484222325ULL) {
    for (unsigned char c : data) h = (h ^ c) * 0x100000001b3ULL;
    return h;
}

// Owned by us and writable by nobody else.
bool private_to_us(const struct stat& st) { return st.st_uid == geteuid() && (st.st_mode & 022) == 0; }

std::string errno_text(int e) { return std::strerror(e); }

struct Fd {
    int fd;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

bool read_all(int fd, void* out, size_t n) {
    auto* p = static_cast<char*>(out);
    while (n > 0) {
        const ssize_t r = ::read(fd, p, n);
        if (r <= 0) return false;
        p += r;
        n -= static_cast<size_t>(r);
    }
    return true;
}

bool write_all(int fd, const void* data, size_t n) {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w <= 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

std::string parent_of(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// Creates `path` (`mode`) if missing, only when its parent belongs to us
// (or, for root, to root and is writable by nobody else).
bool make_dir(const std::string& path, mode_t mode, std::string& why) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) return true;
    if (errno != ENOENT) {
        why = path + ": " + errno_text(errno);
        return false;
    }
    const std::string parent = parent_of(path);
    struct stat ps {};
    if (::stat(parent.c_str(), &ps) != 0) {
        why = parent + ": " + errno_text(errno);
        return false;
    }
    if (!S_ISDIR(ps.st_mode) || ps.st_uid != geteuid() || (geteuid() == 0 && (ps.st_mode & 022) != 0)) {
        why = "not creating " + path + ": " + parent + " does not belong to this user";
        return false;
    }
    if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
        why = path + ": " + errno_text(errno);
        return false;
    }
    return true;
}

}  // namespace

std::string PatternCache::default_dir() {
    if (const char* d = std::getenv("CACHE_DIRECTORY"); d != nullptr && *d == '/') {
        // systemd may list several, colon-separated: the first is ours.
        const std::string all(d);
        return all.substr(0, all.find(':'));
    }
    if (geteuid() == 0) return "/var/cache/echoflow";
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x == '/') return std::string(x) + "/echoflow";
    if (const char* h = std::getenv("HOME"); h != nullptr && *h == '/') return std::string(h) + "/.cache/echoflow";
    return {};
}

std::string PatternCache::file_name(std::string_view key) {
    char name[64];
    std::snprintf(name, sizeof name, "%s%016llx.hsdb", kPrefix, static_cast<unsigned long long>(fnv1a(key)));
    return name;
}

int PatternCache::open_dir(bool create, std::string& why) const {
    if (create) {
        // ~/.cache may be missing too: one level of parent, same rule; 0700
        // as the XDG base directory spec says, but 0755 for root (a
        // missing /var/cache serves every daemon of the system).
        struct stat st {};
        const std::string parent = parent_of(dir_);
        if (::stat(parent.c_str(), &st) != 0 && errno == ENOENT &&
            !make_dir(parent, geteuid() == 0 ? 0755 : 0700, why))
            return -1;
        if (!make_dir(dir_, 0700, why)) return -1;
    }
    const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        struct stat st {};
        why = dir_ + ": " + (errno == ENOTDIR && ::lstat(dir_.c_str(), &st) == 0 && S_ISLNK(st.st_mode)
                                 ? std::string("a symbolic link; not used")
                                 : errno_text(errno));
        return -1;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !private_to_us(st)) {
        why = dir_ + ": not owned by this user or writable by others; not used";
        ::close(fd);
        return -1;
    }
    return fd;
}

bool PatternCache::load(std::string_view key, unsigned groups, hs_database* dbs[kGroups]) const {
    for (unsigned g = 0; g < kGroups; ++g) dbs[g] = nullptr;
    if (dir_.empty()) return false;
    std::string why;
    const Fd dir(open_dir(false, why));
    if (dir.fd < 0) return false;
    const Fd f(::openat(dir.fd, file_name(key).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (f.fd < 0 || ::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode) || !private_to_us(st)) return false;
    char magic[sizeof kMagic - 1];
    if (!read_all(f.fd, magic, sizeof magic) || std::memcmp(magic, kMagic, sizeof magic) != 0) return false;
    uint64_t key_length = 0;
    if (!read_all(f.fd, &key_length, sizeof key_length) || key_length != key.size()) return false;
    std::vector<char> bytes(key.size());
    if (!read_all(f.fd, bytes.data(), bytes.size()) || std::memcmp(bytes.data(), key.data(), key.size()) != 0)
        return false;  // another compile's databases (a renamed file, a hash collision)
    bool ok = true;
    for (unsigned g = 0; g < kGroups && ok; ++g) {
        uint8_t present = 0;
        uint64_t length = 0;
        if (!read_all(f.fd, &present, 1) || present > 1) ok = false;
        else if (present && (!read_all(f.fd, &length, sizeof length) || length > uint64_t(st.st_size))) ok = false;
        // Exactly the groups the pattern file has: anything else is not ours.
        else if (static_cast<bool>(present) != static_cast<bool>(groups & (1u << g))) ok = false;
        else if (present) {
            bytes.resize(length);
            ok = read_all(f.fd, bytes.data(), length) &&
                 hs_deserialize_database(bytes.data(), length, &dbs[g]) == HS_SUCCESS;
        }
    }
    if (!ok) {
        for (unsigned g = 0; g < kGroups; ++g) {
            if (dbs[g] != nullptr) hs_free_database(dbs[g]);
            dbs[g] = nullptr;
        }
        return false;
    }
    (void)::futimens(f.fd, nullptr);  // in use: its mtime is what pruning looks at
    return true;
}

flowgen::Status PatternCache::store(std::string_view key, hs_database* const dbs[kGroups]) const {
    if (dir_.empty()) return {};
    std::string why;
    const Fd dir(open_dir(true, why));
    if (dir.fd < 0) return flowgen::Status::error(why);
    const std::string name = file_name(key);
    static std::atomic<unsigned> serial{0};
    const std::string tmp = name + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(serial++);
    int error = 0;
    {
        const Fd f(::openat(dir.fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (f.fd < 0) return flowgen::Status::error(tmp + ": " + errno_text(errno));
        const uint64_t key_length = key.size();
        bool ok = write_all(f.fd, kMagic, sizeof kMagic - 1) && write_all(f.fd, &key_length, sizeof key_length) &&
                  write_all(f.fd, key.data(), key.size());
        if (!ok) error = errno;
        for (unsigned g = 0; g < kGroups && ok; ++g) {
            const uint8_t present = dbs[g] != nullptr;
            ok = write_all(f.fd, &present, 1);
            if (!ok) error = errno;
            if (!ok || !present) continue;
            char* bytes = nullptr;
            size_t length = 0;
            if (hs_serialize_database(dbs[g], &bytes, &length) != HS_SUCCESS) {
                ok = false;
                break;
            }
            const uint64_t length64 = length;
            ok = write_all(f.fd, &length64, sizeof length64) && write_all(f.fd, bytes, length);
            if (!ok) error = errno;
            std::free(bytes);  // hs_serialize_database allocates with the misc allocator (malloc by default)
        }
        if (ok && ::fsync(f.fd) != 0) {
            ok = false;
            error = errno;
        }
        if (ok && ::renameat(dir.fd, tmp.c_str(), dir.fd, name.c_str()) != 0) {
            ok = false;
            error = errno;
        }
        if (!ok) {
            ::unlinkat(dir.fd, tmp.c_str(), 0);
            return flowgen::Status::error(name + ": " + (error != 0 ? errno_text(error) : "serialisation failed"));
        }
    }

    // Housekeeping: other keys' files unused for kStaleSeconds (an edited
    // pattern file, an upgraded libhs) and temporary files of killed runs.
    const int list_fd = ::fcntl(dir.fd, F_DUPFD_CLOEXEC, 0);
    DIR* d = list_fd >= 0 ? ::fdopendir(list_fd) : nullptr;
    if (d == nullptr && list_fd >= 0) ::close(list_fd);
    if (d != nullptr) {
        const time_t now = std::time(nullptr);
        while (const dirent* e = ::readdir(d)) {
            const std::string entry = e->d_name;
            if (entry.rfind(kPrefix, 0) != 0 || entry == name) continue;
            struct stat st {};
            if (::fstatat(dir.fd, entry.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
            const bool temp = entry.find(".tmp.") != std::string::npos;
            if (now - st.st_mtime > (temp ? kTempSeconds : kStaleSeconds)) ::unlinkat(dir.fd, entry.c_str(), 0);
        }
        ::closedir(d);
    }
    return {};
}

}  // namespace detect

#include "detect/pattern_cache.hpp"

#include <fcntl.h>
#include <hs/hs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace detect {

namespace {

// File layout: the magic line, then per group a u8 (1 = present) and, when
// present, a u64 length (host order: the file is only ever read on the
// host that wrote it, which Hyperscan's platform check enforces anyway)
// and that many bytes of hs_serialize_database output.
constexpr char kMagic[] = "echoflow-hs-cache 1\n";

uint64_t fnv1a(std::string_view data, uint64_t h = 0xcbf29ce484222325ULL) {
    for (unsigned char c : data) h = (h ^ c) * 0x100000001b3ULL;
    return h;
}

// Owned by us and writable by nobody else.
bool private_to_us(const struct stat& st) { return st.st_uid == geteuid() && (st.st_mode & 022) == 0; }

std::string errno_text() { return std::strerror(errno); }

struct FdCloser {
    int fd;
    ~FdCloser() {
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

}  // namespace

std::string PatternCache::default_dir() {
    if (const char* d = std::getenv("CACHE_DIRECTORY"); d != nullptr && *d != '\0') {
        // systemd may list several, colon-separated: the first is ours.
        std::string first(d);
        return first.substr(0, first.find(':'));
    }
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x == '/') return std::string(x) + "/echoflow";
    if (const char* h = std::getenv("HOME"); h != nullptr && *h == '/') return std::string(h) + "/.cache/echoflow";
    return {};
}

std::string PatternCache::path_for(std::string_view pattern_text) const {
    const uint64_t h = fnv1a(pattern_text, fnv1a(hs_version()));
    char name[64];
    std::snprintf(name, sizeof name, "/patterns-%016llx.hsdb", static_cast<unsigned long long>(h));
    return dir_ + name;
}

flowgen::Status PatternCache::usable_dir() const {
    struct stat st {};
    if (::stat(dir_.c_str(), &st) != 0) {
        if (errno != ENOENT) return flowgen::Status::error(errno_text());
        // Create it, and its parent when that is missing too (~/.cache).
        const std::string parent = dir_.substr(0, dir_.find_last_of('/'));
        if (!parent.empty()) (void)::mkdir(parent.c_str(), 0700);
        if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) return flowgen::Status::error(errno_text());
        if (::stat(dir_.c_str(), &st) != 0) return flowgen::Status::error(errno_text());
    }
    if (!S_ISDIR(st.st_mode)) return flowgen::Status::error("not a directory");
    if (!private_to_us(st)) return flowgen::Status::error("not owned by this user or writable by others; not used");
    return {};
}

bool PatternCache::load(std::string_view pattern_text, unsigned groups, hs_database* dbs[kGroups]) const {
    for (unsigned g = 0; g < kGroups; ++g) dbs[g] = nullptr;
    if (dir_.empty() || !usable_dir().ok()) return false;
    const FdCloser f{::open(path_for(pattern_text).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
    struct stat st {};
    if (f.fd < 0 || ::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode) || !private_to_us(st)) return false;
    char magic[sizeof kMagic - 1];
    if (!read_all(f.fd, magic, sizeof magic) || std::memcmp(magic, kMagic, sizeof magic) != 0) return false;
    bool ok = true;
    std::vector<char> bytes;
    for (unsigned g = 0; g < kGroups && ok; ++g) {
        uint8_t present = 0;
        uint64_t length = 0;
        if (!read_all(f.fd, &present, 1) || present > 1) ok = false;
        else if (present && (!read_all(f.fd, &length, sizeof length) || length > uint64_t{st.st_size})) ok = false;
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
    }
    return ok;
}

flowgen::Status PatternCache::store(std::string_view pattern_text, hs_database* const dbs[kGroups]) const {
    if (dir_.empty()) return {};
    if (auto s = usable_dir(); !s) return s;
    const std::string path = path_for(pattern_text);
    std::string tmp = path + ".XXXXXX";
    const FdCloser f{::mkstemp(tmp.data())};  // mode 0600
    if (f.fd < 0) return flowgen::Status::error(errno_text());
    bool ok = write_all(f.fd, kMagic, sizeof kMagic - 1);
    for (unsigned g = 0; g < kGroups && ok; ++g) {
        const uint8_t present = dbs[g] != nullptr;
        ok = write_all(f.fd, &present, 1);
        if (!ok || !present) continue;
        char* bytes = nullptr;
        size_t length = 0;
        if (hs_serialize_database(dbs[g], &bytes, &length) != HS_SUCCESS) {
            ok = false;
            break;
        }
        const uint64_t length64 = length;
        ok = write_all(f.fd, &length64, sizeof length64) && write_all(f.fd, bytes, length);
        std::free(bytes);  // hs_serialize_database allocates with the misc allocator (malloc by default)
    }
    if (!ok || ::fsync(f.fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string why = errno != 0 ? errno_text() : "serialisation failed";
        ::unlink(tmp.c_str());
        return flowgen::Status::error(why);
    }
    return {};
}

}  // namespace detect

#include "probe/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

namespace probe {

using flowgen::Status;

namespace {

std::string errno_text(int err) { return std::to_string(err) + " (" + std::strerror(err) + ")"; }

bool parse_id(const std::string& text, unsigned& out) {
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return !text.empty() && ec == std::errc() && ptr == end;
}

// getpwnam_r/getgrnam_r need a caller buffer; NSS backends (LDAP, sssd)
// may need more than sysconf suggests, so grow it on ERANGE.
template <class Entry, class Lookup>
int lookup(Lookup fn, const char* key, Entry& entry, std::vector<char>& buf, Entry*& result) {
    buf.resize(4096);
    for (;;) {
        const int rc = fn(key, &entry, buf.data(), buf.size(), &result);
        if (rc != ERANGE || buf.size() >= (1u << 20)) return rc;
        buf.resize(buf.size() * 2);
    }
}

std::string user_name(uid_t uid) {
    passwd pw{};
    passwd* found = nullptr;
    std::vector<char> buf(4096);
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found) return found->pw_name;
    return "?";
}

std::string group_name(gid_t gid) {
    group gr{};
    group* found = nullptr;
    std::vector<char> buf(4096);
    if (getgrgid_r(gid, &gr, buf.data(), buf.size(), &found) == 0 && found) return found->gr_name;
    return "?";
}

struct CapFree {
    void operator()(void* p) const { cap_free(p); }
};

}  // namespace

Status resolve_identity(const std::string& user, const std::string& group, Identity& out) {
    out = Identity{};
    out.user = user;
    out.group = group;
    std::vector<char> buf;
    passwd pw{};
    passwd* found = nullptr;
    const int rc = lookup(getpwnam_r, user.c_str(), pw, buf, found);
    unsigned number = 0;
    bool have_gid = false;
    if (rc == 0 && found) {
        out.uid = found->pw_uid;
        out.gid = found->pw_gid;
        have_gid = true;
    } else if (parse_id(user, number)) {
        out.uid = number;
        passwd byid{};
        if (getpwuid_r(out.uid, &byid, buf.data(), buf.size(), &found) == 0 && found) {
            out.gid = found->pw_gid;
            have_gid = true;
        }
    } else {
        return Status::error("--user " + user + ": " + (rc ? errno_text(rc) : std::string("no such user")));
    }
    if (!group.empty()) {
        ::group gr{};
        ::group* g = nullptr;
        const int grc = lookup(getgrnam_r, group.c_str(), gr, buf, g);
        if (grc == 0 && g) {
            out.gid = g->gr_gid;
        } else if (parse_id(group, number)) {
            out.gid = number;
        } else {
            return Status::error("--group " + group + ": " + (grc ? errno_text(grc) : std::string("no such group")));
        }
        have_gid = true;
    }
    if (!have_gid)
        return Status::error("--user " + user + ": uid without a passwd entry: give --group too");
    // Switching to root would keep every thread's capabilities: not a drop.
    if (out.uid == 0) return Status::error("--user " + user + ": is root; name an unprivileged user");
    return {};
}

Status check_can_switch(const Identity& id) {
    if (geteuid() == 0 || (getuid() == id.uid && geteuid() == id.uid && getgid() == id.gid)) return {};
    return Status::error("--user " + id.user + ": needs root to switch from uid " + std::to_string(getuid()));
}

std::vector<cap_value_t> kept_capabilities(bool kernel_interface) {
    if (kernel_interface) return {CAP_NET_ADMIN};
    return {};
}

Status drop_privileges(const Identity& id, std::span<const cap_value_t> keep) {
    // PR_SET_KEEPCAPS: this thread keeps its permitted set across the uid
    // change (capabilities(7), "Effect of user ID changes on capabilities");
    // the others, which never set it, lose theirs. Reset right after.
    if (!keep.empty() && prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0)
        return Status::error("prctl(PR_SET_KEEPCAPS): " + errno_text(errno));
    const bool root = geteuid() == 0;
    if (root && setgroups(1, &id.gid) != 0) return Status::error("setgroups: " + errno_text(errno));
    if (setresgid(id.gid, id.gid, id.gid) != 0)
        return Status::error("setresgid(" + std::to_string(id.gid) + "): " + errno_text(errno));
    if (setresuid(id.uid, id.uid, id.uid) != 0)
        return Status::error("setresuid(" + std::to_string(id.uid) + "): " + errno_text(errno));
    if (!keep.empty() && prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) != 0)
        return Status::error("prctl(PR_SET_KEEPCAPS, 0): " + errno_text(errno));

    // KEEPCAPS kept the permitted set, the uid change cleared the effective
    // set: now exactly `keep` in both, nothing inheritable (which also
    // clears the ambient set).
    std::unique_ptr<_cap_struct, CapFree> caps(cap_init());
    if (!caps) return Status::error("cap_init: " + errno_text(errno));
    if (!keep.empty()) {
        const int n = static_cast<int>(keep.size());
        if (cap_set_flag(caps.get(), CAP_PERMITTED, n, keep.data(), CAP_SET) != 0 ||
            cap_set_flag(caps.get(), CAP_EFFECTIVE, n, keep.data(), CAP_SET) != 0)
            return Status::error("cap_set_flag: " + errno_text(errno));
    }
    if (cap_set_proc(caps.get()) != 0) return Status::error("cap_set_proc: " + errno_text(errno));
    if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() != 0)
        return Status::error("cap_reset_ambient: " + errno_text(errno));

    // The check every daemon that drops root should make: root is gone for
    // good (setuid(0) must fail once no uid is 0 and CAP_SETUID is gone).
    if (id.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
        return Status::error("still able to become root after switching to uid " + std::to_string(id.uid));
    return {};
}

std::string describe_identity(const Identity& id, std::span<const cap_value_t> keep) {
    std::string caps;
    for (cap_value_t c : keep) {
        std::unique_ptr<char, CapFree> name(cap_to_name(c));
        if (!caps.empty()) caps += ',';
        caps += name ? name.get() : "?";
    }
    std::string out = "uid ";
    out += std::to_string(id.uid);
    out += " (" + user_name(id.uid) + "), gid ";
    out += std::to_string(id.gid);
    out += " (" + group_name(id.gid) + "), capabilities: ";
    out += caps.empty() ? "none" : caps;
    return out;
}

}  // namespace probe

// Finding icmp_steer on an interface and talking to its maps. See
// xdp_stats.hpp for the contract.
//
// Path from an interface name to a map: if_nametoindex -> libxdp's view of
// what is attached (legacy program or dispatcher with components) -> the
// program named ICMP_STEER_PROG_NAME -> its map ids (BPF_OBJ_GET_INFO_BY_FD)
// -> the map whose kernel name matches. libxdp is used for the middle step
// because a program behind the dispatcher is only reachable through the
// dispatcher's bpffs pins, which libxdp owns.
#include "probe/xdp_stats.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "flowgen/packet.hpp"
#include "probe/bpf/icmp_steer.h"

namespace probe {
namespace {

using flowgen::Status;

// The per-CPU value array that BPF_MAP_LOOKUP_ELEM fills has one slot per
// possible CPU, each rounded up to 8 bytes; with this holding, a
// std::vector<icmp_steer_counters> has exactly that layout.
static_assert(sizeof(icmp_steer_counters) % 8 == 0);

// The XDP program's parsing bounds are the parser's: one frame, one answer
// to "ICMP for the probe or not" (tests/bpf/parity_test.cpp).
static_assert(ICMP_STEER_MAX_VLAN_TAGS == flowgen::kMaxVlanTags);
static_assert(ICMP_STEER_MAX_MPLS_LABELS == flowgen::kMaxMplsLabels);
static_assert(ICMP_STEER_MAX_ENCAP == flowgen::kMaxDecapLayers);
static_assert(ICMP_STEER_MAX_VXLAN_PORTS == flowgen::kMaxVxlanPorts);

std::string errno_text(int err) {
    return std::to_string(err) + " (" + std::strerror(err < 0 ? -err : err) + ")";
}

std::string libxdp_text(long err) {
    char buf[256];
    if (libxdp_strerror(static_cast<int>(err), buf, sizeof buf) != 0) return errno_text(static_cast<int>(err));
    return std::to_string(err) + " (" + buf + ")";
}

class OwnedFd {
public:
    explicit OwnedFd(int fd) : fd_(fd) {}
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
    ~OwnedFd() {
        if (fd_ >= 0) close(fd_);
    }
    int get() const { return fd_; }

private:
    int fd_;
};

struct MultiprogClose {
    void operator()(xdp_multiprog* mp) const { xdp_multiprog__close(mp); }
};
using MultiprogPtr = std::unique_ptr<xdp_multiprog, MultiprogClose>;

// What is attached to one interface, and our program among it (owned by mp).
struct Attachment {
    int ifindex = 0;
    MultiprogPtr mp;
    xdp_program* prog = nullptr;  // null: attached programs do not include ours
};

bool is_icmp_steer(const xdp_program* prog) {
    const char* name = xdp_program__name(prog);
    return name != nullptr && std::strcmp(name, ICMP_STEER_PROG_NAME) == 0;
}

// Fills `out` with what is attached to ifname. "Nothing attached" is not an
// error here (out.mp stays null); the callers decide.
Status find_attachment(const std::string& ifname, Attachment& out) {
    unsigned int ifindex = if_nametoindex(ifname.c_str());
    if (ifindex == 0) return Status::error("if_nametoindex: " + errno_text(errno));
    out.ifindex = static_cast<int>(ifindex);

    xdp_multiprog* raw = xdp_multiprog__get_from_ifindex(out.ifindex);
    long err = libxdp_get_error(raw);
    if (err == -ENOENT) return Status();
    if (err != 0) return Status::error("xdp_multiprog__get_from_ifindex: " + libxdp_text(err));
    out.mp.reset(raw);

    if (xdp_multiprog__is_legacy(raw)) {
        xdp_program* main = xdp_multiprog__main_prog(raw);
        if (main != nullptr && is_icmp_steer(main)) out.prog = main;
        return Status();
    }
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, raw); p != nullptr;
         p = xdp_multiprog__next_prog(p, raw)) {
        if (is_icmp_steer(p)) {
            out.prog = p;
            break;
        }
    }
    return Status();
}

// Finds our program or says precisely why not.
Status require_icmp_steer(const std::string& ifname, Attachment& out) {
    Status s = find_attachment(ifname, out);
    if (!s) return s;
    if (!out.mp) return Status::error("no XDP program attached");
    if (out.prog == nullptr) {
        xdp_program* main = xdp_multiprog__main_prog(out.mp.get());
        const char* name = main != nullptr ? xdp_program__name(main) : nullptr;
        return Status::error(std::string("attached XDP program is ") + (name != nullptr ? name : "unnamed") +
                             ", not " ICMP_STEER_PROG_NAME);
    }
    return Status();
}

// Opens the map called `name` used by the program, checking that its type
// and value size are those of icmp_steer.h.
Status open_program_map(const xdp_program* prog, const char* name, bpf_map_type type, uint32_t value_size,
                        int& fd_out) {
    int prog_fd = xdp_program__fd(prog);
    if (prog_fd < 0) return Status::error(std::string(ICMP_STEER_PROG_NAME ": no program fd"));

    bpf_prog_info info{};
    uint32_t info_len = sizeof info;
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &info_len) != 0)
        return Status::error("bpf_obj_get_info_by_fd(program): " + errno_text(errno));
    std::vector<uint32_t> ids(info.nr_map_ids);
    if (!ids.empty()) {
        uint32_t count = info.nr_map_ids;
        info = bpf_prog_info{};
        info.nr_map_ids = count;
        info.map_ids = reinterpret_cast<uintptr_t>(ids.data());
        info_len = sizeof info;
        if (bpf_obj_get_info_by_fd(prog_fd, &info, &info_len) != 0)
            return Status::error("bpf_obj_get_info_by_fd(program maps): " + errno_text(errno));
        ids.resize(std::min<uint32_t>(count, info.nr_map_ids));
    }

    for (uint32_t id : ids) {
        int fd = bpf_map_get_fd_by_id(id);
        if (fd < 0) return Status::error("bpf_map_get_fd_by_id(" + std::to_string(id) + "): " + errno_text(errno));
        OwnedFd map_fd(fd);
        bpf_map_info map_info{};
        uint32_t map_info_len = sizeof map_info;
        if (bpf_obj_get_info_by_fd(fd, &map_info, &map_info_len) != 0)
            return Status::error("bpf_obj_get_info_by_fd(map): " + errno_text(errno));
        if (std::strncmp(map_info.name, name, sizeof map_info.name) != 0) continue;
        if (map_info.type != static_cast<uint32_t>(type) || map_info.value_size != value_size ||
            map_info.max_entries < 1)
            return Status::error(std::string("map ") + name + " has type " + std::to_string(map_info.type) +
                                 ", value size " + std::to_string(map_info.value_size) + ", expected type " +
                                 std::to_string(type) + ", value size " + std::to_string(value_size) +
                                 " (object built from another icmp_steer.h?)");
        fd_out = dup(fd);
        if (fd_out < 0) return Status::error("dup: " + errno_text(errno));
        return Status();
    }
    return Status::error(std::string(ICMP_STEER_PROG_NAME " has no map named ") + name);
}

Status with_context(Status s, const std::string& ifname) {
    s.prefix("xdp on " + ifname);
    return s;
}

}  // namespace

Status read_xdp_counters(const std::string& ifname, XdpCounters& out) {
    Attachment at;
    Status s = require_icmp_steer(ifname, at);
    if (!s) return with_context(std::move(s), ifname);

    int raw_fd = -1;
    s = open_program_map(at.prog, ICMP_STEER_COUNTERS_MAP_NAME, BPF_MAP_TYPE_PERCPU_ARRAY,
                         sizeof(icmp_steer_counters), raw_fd);
    if (!s) return with_context(std::move(s), ifname);
    OwnedFd map_fd(raw_fd);

    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return with_context(Status::error("libbpf_num_possible_cpus: " + errno_text(cpus)), ifname);
    std::vector<icmp_steer_counters> per_cpu(static_cast<size_t>(cpus));
    uint32_t key = 0;
    if (bpf_map_lookup_elem(map_fd.get(), &key, per_cpu.data()) != 0)
        return with_context(Status::error("bpf_map_lookup_elem(" ICMP_STEER_COUNTERS_MAP_NAME "): " + errno_text(errno)),
                            ifname);

    XdpCounters sum;
    for (const icmp_steer_counters& c : per_cpu) {
        sum.redirected += c.redirected;
        sum.passed += c.passed;
        sum.dropped += c.dropped;
        sum.no_socket += c.no_socket;
        sum.malformed += c.malformed;
    }
    out = sum;
    return Status();
}

Status set_xdp_drop_other(const std::string& ifname, bool drop) {
    Attachment at;
    Status s = require_icmp_steer(ifname, at);
    if (!s) return with_context(std::move(s), ifname);

    int raw_fd = -1;
    s = open_program_map(at.prog, ICMP_STEER_CONFIG_MAP_NAME, BPF_MAP_TYPE_ARRAY, sizeof(icmp_steer_config), raw_fd);
    if (!s) return with_context(std::move(s), ifname);
    OwnedFd map_fd(raw_fd);

    uint32_t key = 0;
    icmp_steer_config config{};
    if (bpf_map_lookup_elem(map_fd.get(), &key, &config) != 0)
        return with_context(Status::error("bpf_map_lookup_elem(" ICMP_STEER_CONFIG_MAP_NAME "): " + errno_text(errno)),
                            ifname);
    config.flags = drop ? (config.flags | ICMP_STEER_DROP_OTHER) : (config.flags & ~ICMP_STEER_DROP_OTHER);
    if (bpf_map_update_elem(map_fd.get(), &key, &config, BPF_ANY) != 0)
        return with_context(Status::error("bpf_map_update_elem(" ICMP_STEER_CONFIG_MAP_NAME "): " + errno_text(errno)),
                            ifname);
    return Status();
}

icmp_steer_config steer_config_for(const flowgen::ParseOptions& options, bool drop_other) noexcept {
    icmp_steer_config config{};
    config.flags = (drop_other ? ICMP_STEER_DROP_OTHER : 0u) | (options.decap ? 0u : ICMP_STEER_NO_DECAP);
    const int ports = std::min<int>(options.vxlan_port_count, ICMP_STEER_MAX_VXLAN_PORTS);
    for (int i = 0; i < ports; ++i) config.vxlan_ports[i] = options.vxlan_ports[i];
    config.geneve_port = options.geneve_port;
    return config;
}

Status set_xdp_config(const std::string& ifname, const flowgen::ParseOptions& options, bool drop_other) {
    Attachment at;
    Status s = require_icmp_steer(ifname, at);
    if (!s) return with_context(std::move(s), ifname);

    int raw_fd = -1;
    s = open_program_map(at.prog, ICMP_STEER_CONFIG_MAP_NAME, BPF_MAP_TYPE_ARRAY, sizeof(icmp_steer_config), raw_fd);
    if (!s) return with_context(std::move(s), ifname);
    OwnedFd map_fd(raw_fd);

    uint32_t key = 0;
    const icmp_steer_config config = steer_config_for(options, drop_other);
    if (bpf_map_update_elem(map_fd.get(), &key, &config, BPF_ANY) != 0)
        return with_context(Status::error("bpf_map_update_elem(" ICMP_STEER_CONFIG_MAP_NAME "): " + errno_text(errno)),
                            ifname);
    return Status();
}

Status detach_xdp(const std::string& ifname) {
    Attachment at;
    Status s = find_attachment(ifname, at);
    if (!s) return with_context(std::move(s), ifname);
    if (at.prog == nullptr) return Status();  // not ours, or nothing: leave it

    // Legacy mode: our program is the one attached, detach it by mode. Behind
    // the dispatcher: libxdp rebuilds the dispatcher without it (or removes
    // the dispatcher when ours was the only component).
    int err = xdp_program__detach(at.prog, at.ifindex, xdp_multiprog__attach_mode(at.mp.get()), 0);
    if (err != 0) return with_context(Status::error("xdp_program__detach: " + libxdp_text(err)), ifname);
    return Status();
}

}  // namespace probe

// How packets are grouped into conversations, and the small table that lets
// non-first IP fragments join the conversation of their first fragment.
//
// Key (documented in README "What is a conversation"), always within one
// segment (the VLAN of the Ethernet header that carried the packet, and the
// overlay segment it came in: VXLAN/Geneve VNI, ERSPAN session), so that
// mirrors of networks with the same private addresses stay apart:
// - request/reply pairs (echo, timestamp, information, address mask, ICMPv6
//   echo): family, the two addresses in canonical order, the request type and
//   the identifier. Request and reply are one conversation.
// - every other ICMP message (errors, neighbour discovery, router
//   advertisements, ...): family, the two addresses, the type and the code.
// - a non-first fragment whose first fragment was seen recently: the key of
//   that first fragment. Otherwise (first fragment lost or reordered behind):
//   family, the two addresses and key type kUnattributedFragment, so the
//   fragment is still counted in exactly one exported flow.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

#include "flowgen/packet.hpp"

namespace flowgen {

// Key types above 255 cannot occur in ICMP; this value is not a request type
// of any pair, nor a type that appears in practice behind ICMP errors.
inline constexpr uint8_t kUnattributedFragment = 255;

struct FlowKey {
    IpAddress low;   // canonical order: compare(low, high) <= 0
    IpAddress high;
    Family family = Family::kNone;
    uint8_t key_type = 0;
    uint16_t id = 0;  // echo identifier, or the code for keys by type/code
    uint16_t vlan_id = 0;                            // PacketInfo::vlan_id
    SegmentType segment_type = SegmentType::kNone;   // PacketInfo::segment_type
    uint32_t segment_id = 0;                         // PacketInfo::segment_id

    friend bool operator==(const FlowKey& a, const FlowKey& b) noexcept {
        return a.family == b.family && a.key_type == b.key_type && a.id == b.id && a.vlan_id == b.vlan_id &&
               a.segment_type == b.segment_type && a.segment_id == b.segment_id && a.low == b.low &&
               a.high == b.high;
    }
};

// 64-bit hash of a key, computed in software from the addresses: never the
// NIC's RSS hash, whose symmetric form has only ~65k distinct values.
uint64_t hash_key(const FlowKey& key) noexcept;

// Fills `key` for an ICMP packet that has an ICMP header. Returns true when
// the packet is the reply half of a request/reply pair.
bool make_key(const PacketInfo& p, FlowKey& key) noexcept;

// Remembers, for recent first fragments, the conversation key type and id,
// so later fragments of the same datagram join that conversation.
// Direct-mapped, fixed size, owned by one lcore; a collision overwrites (the
// later fragment then counts as unattributed, never lost).
class FragmentMap {
public:
    explicit FragmentMap(uint32_t entries_pow2 = 4096);
    void remember(const PacketInfo& first_fragment, const FlowKey& key) noexcept;
    // Key for a non-first fragment: the remembered one or an unattributed key.
    // Returns true when the first fragment was found.
    bool key_for(const PacketInfo& fragment, FlowKey& key) noexcept;

private:
    struct Entry {
        IpAddress src;
        IpAddress dst;
        uint32_t fragment_id;
        Family family;
        uint8_t key_type;
        uint16_t id;
    };
    uint32_t slot(const PacketInfo& p) const noexcept;
    std::unique_ptr<Entry[]> entries_;
    uint32_t mask_;
};

}  // namespace flowgen

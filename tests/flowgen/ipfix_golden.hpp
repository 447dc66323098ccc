// Helpers for hand-written golden IPFIX messages: big-endian appenders that
// check the offset each annotated field starts at, and a byte comparison
// that names the first differing offset.
#pragma once

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ipfix_test {

class Golden {
public:
    // The next field must start at `offset` (keeps the annotations honest).
    Golden& at(size_t offset) {
        BOOST_REQUIRE_EQUAL(bytes_.size(), offset);
        return *this;
    }
    Golden& u8(uint64_t v) { return put(v, 1); }
    Golden& u16(uint64_t v) { return put(v, 2); }
    Golden& u32(uint64_t v) { return put(v, 4); }
    Golden& u64(uint64_t v) { return put(v, 8); }
    Golden& ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
        bytes_.insert(bytes_.end(), {a, b, c, d});
        return *this;
    }
    Golden& raw(const std::vector<uint8_t>& v) {
        bytes_.insert(bytes_.end(), v.begin(), v.end());
        return *this;
    }
    Golden& text(const std::string& s) {
        bytes_.insert(bytes_.end(), s.begin(), s.end());
        return *this;
    }
    // Field specifier (RFC 7011 §3.2): IANA element.
    Golden& ie(uint16_t id, uint16_t len) { return u16(id).u16(len); }
    // Field specifier with the enterprise bit and PEN.
    Golden& ent(uint16_t id, uint16_t len, uint32_t pen) { return u16(0x8000u | id).u16(len).u32(pen); }
    const std::vector<uint8_t>& bytes() const { return bytes_; }
    size_t size() const { return bytes_.size(); }

private:
    Golden& put(uint64_t v, int n) {
        for (int i = n - 1; i >= 0; --i) bytes_.push_back(uint8_t(v >> (8 * i)));
        return *this;
    }
    std::vector<uint8_t> bytes_;
};

inline void check_bytes(const uint8_t* actual, size_t actual_len, const std::vector<uint8_t>& expected) {
    BOOST_CHECK_EQUAL(actual_len, expected.size());
    const size_t n = std::min(actual_len, expected.size());
    for (size_t i = 0; i < n; ++i) {
        if (actual[i] != expected[i]) {
            BOOST_ERROR("first difference at offset " << i << ": got " << int(actual[i]) << ", expected "
                                                      << int(expected[i]));
            return;
        }
    }
}

}  // namespace ipfix_test

// A small IPFIX decoder for tests: learns templates from the messages it is
// given (as a collector does) and decodes data records into field maps, so
// transport tests can check what arrives without trusting the encoder's own
// tables. Written from RFC 7011 §3, independently of flowgen/ipfix_encoder.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ipfix_test {

inline uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) { return uint32_t(be16(p)) << 16 | be16(p + 2); }
inline uint64_t be64(const uint8_t* p) { return uint64_t(be32(p)) << 32 | be32(p + 4); }

struct Field {
    uint16_t id;
    uint16_t length;
    uint32_t pen;
};

struct Record {
    uint16_t template_id = 0;
    std::map<std::pair<uint32_t, uint16_t>, std::vector<uint8_t>> fields;  // (pen, id) -> bytes

    bool has(uint16_t id, uint32_t pen = 0) const { return fields.count({pen, id}) != 0; }
    // Unsigned value of any length up to 8 bytes; 0 when absent.
    uint64_t u(uint16_t id, uint32_t pen = 0) const {
        auto it = fields.find({pen, id});
        if (it == fields.end()) return 0;
        uint64_t v = 0;
        for (uint8_t b : it->second) v = v << 8 | b;
        return v;
    }
    std::string str(uint16_t id, uint32_t pen = 0) const {
        auto it = fields.find({pen, id});
        return it == fields.end() ? std::string() : std::string(it->second.begin(), it->second.end());
    }
};

struct Message {
    uint16_t version = 0, length = 0;
    uint32_t export_time = 0, sequence = 0, odid = 0;
    size_t template_records = 0;
    std::vector<Record> records;  // data records (flow and options data), in order
    std::string error;            // empty when the message decoded cleanly
};

class Decoder {
public:
    Message decode(const uint8_t* p, size_t n) {
        Message m;
        if (n < 16) return fail(m, "short header");
        m.version = be16(p);
        m.length = be16(p + 2);
        m.export_time = be32(p + 4);
        m.sequence = be32(p + 8);
        m.odid = be32(p + 12);
        if (m.version != 10) return fail(m, "version");
        if (m.length != n) return fail(m, "message length differs from datagram");
        size_t off = 16;
        while (off < n) {
            if (n - off < 4) return fail(m, "short set header");
            const uint16_t set_id = be16(p + off), set_len = be16(p + off + 2);
            if (set_len < 4 || off + set_len > n) return fail(m, "bad set length");
            const uint8_t* s = p + off + 4;
            const uint8_t* end = p + off + set_len;
            if (set_id == 2 || set_id == 3) {
                while (end - s >= 4) {
                    const uint16_t tid = be16(s), count = be16(s + 2);
                    s += 4;
                    if (set_id == 3) s += 2;  // scope field count
                    std::vector<Field> fields;
                    for (uint16_t i = 0; i < count; ++i) {
                        if (end - s < 4) return fail(m, "truncated template");
                        Field f{uint16_t(be16(s) & 0x7FFF), be16(s + 2), 0};
                        const bool ent = be16(s) & 0x8000;
                        s += 4;
                        if (ent) {
                            if (end - s < 4) return fail(m, "truncated PEN");
                            f.pen = be32(s);
                            s += 4;
                        }
                        fields.push_back(f);
                    }
                    templates_[tid] = fields;
                    ++m.template_records;
                }
                if (s != end) return fail(m, "padding in template set");
            } else if (set_id >= 256) {
                auto it = templates_.find(set_id);
                if (it == templates_.end()) return fail(m, "data set before its template");
                while (s < end) {
                    Record r;
                    r.template_id = set_id;
                    for (const Field& f : it->second) {
                        size_t len = f.length;
                        if (len == 0xFFFF) {  // RFC 7011 §7 variable length
                            if (s >= end) return fail(m, "truncated varlen");
                            len = *s++;
                            if (len == 255) {
                                len = be16(s);
                                s += 2;
                            }
                        }
                        if (size_t(end - s) < len) return fail(m, "truncated record");
                        r.fields[{f.pen, f.id}] = std::vector<uint8_t>(s, s + len);
                        s += len;
                    }
                    m.records.push_back(std::move(r));
                }
            } else {
                return fail(m, "reserved set id");
            }
            off += set_len;
        }
        return m;
    }

    const std::map<uint16_t, std::vector<Field>>& templates() const { return templates_; }

private:
    static Message fail(Message& m, const char* why) {
        m.error = why;
        return m;
    }
    std::map<uint16_t, std::vector<Field>> templates_;
};

}  // namespace ipfix_test

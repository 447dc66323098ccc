// IPFIX transport: UDP and TCP collectors, template refresh, sequence
// numbers, non-blocking sends with drop-and-count (RFC 7011 §8, §10).
#include "flowgen/ipfix_exporter.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "flowgen/bytes.hpp"

namespace flowgen {

namespace {

constexpr uint32_t kInitialBackoffMs = 500;
constexpr uint32_t kMaxBackoffMs = 30000;
constexpr size_t kMaxQueuedMessages = 1u << 16;
constexpr int kCloseDrainMs = 2000;

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    return true;
}

}  // namespace

Status parse_collector(std::string_view text, CollectorAddress& out) {
    auto fail = [&](const std::string& why) {
        return Status::error("collector '" + std::string(text) + "': " + why);
    };
    CollectorAddress a;
    a.text = std::string(text);
    std::string_view rest = text;
    if (starts_with_nocase(rest, "udp://")) {
        rest.remove_prefix(6);
    } else if (starts_with_nocase(rest, "tcp://")) {
        a.transport = CollectorAddress::Transport::kTcp;
        rest.remove_prefix(6);
    } else if (rest.find("://") != std::string_view::npos) {
        return fail("unknown transport (use udp:// or tcp://)");
    }
    std::string_view host, port;
    if (!rest.empty() && rest.front() == '[') {
        const size_t close = rest.find(']');
        if (close == std::string_view::npos) return fail("missing ']' after IPv6 address");
        host = rest.substr(1, close - 1);
        if (close + 1 >= rest.size() || rest[close + 1] != ':') return fail("missing ':PORT'");
        port = rest.substr(close + 2);
    } else {
        const size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos) return fail("missing ':PORT'");
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return fail("an IPv6 address must be written in brackets, e.g. [::1]:4739");
    }
    if (host.empty()) return fail("missing host");
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return fail("port '" + std::string(port) + "' is not a number in 1..65535");
    const unsigned long p = std::stoul(std::string(port));
    if (p == 0 || p > 65535) return fail("port '" + std::string(port) + "' is not a number in 1..65535");
    a.host = std::string(host);
    a.port = static_cast<uint16_t>(p);
    out = std::move(a);
    return Status();
}

Status validate(const ExporterConfig& c) {
    if (c.collectors.empty()) return Status::error("ipfix: at least one collector is required");
    if (c.max_message_bytes < kMinMessageBytes)
        return Status::error("ipfix: max message size " + std::to_string(c.max_message_bytes) +
                             " is below " + std::to_string(kMinMessageBytes) + " bytes");
    for (const CollectorAddress& a : c.collectors)
        if (a.transport == CollectorAddress::Transport::kUdp && c.max_message_bytes > 65507)
            return Status::error("ipfix: max message size " + std::to_string(c.max_message_bytes) +
                                 " exceeds the largest UDP payload (65507) for collector " + a.text);
    if (c.template_refresh_s == 0) return Status::error("ipfix: template refresh interval must be > 0 s");
    if (c.flush_interval_ms == 0 || c.flush_interval_ms > 60000)
        return Status::error("ipfix: flush interval must be 1..60000 ms");
    if (c.detection_elements && c.enterprise_number == 0)
        return Status::error("ipfix: enterprise number 0 is not a private enterprise number");
    // RFC 5103 §6.1: PEN 29305 marks an element as the reverse direction of
    // the IANA element with the same id. Detection elements 1..8 under it
    // would read as reverse octetDeltaCount, packetDeltaCount, ... (and in
    // the biflow templates 258/259 collide with the real reverse elements).
    if (c.detection_elements && c.enterprise_number == kReversePen)
        return Status::error("ipfix: enterprise number 29305 is RFC 5103's reverse-element number; "
                             "choose another --pen");
    if (c.tcp_buffer_bytes < 4u * c.max_message_bytes)
        return Status::error("ipfix: TCP buffer must hold at least 4 messages");
    return Status();
}

// ------------------------------------------------------------ CollectorLink

class CollectorLink {
public:
    enum class State : uint8_t { kReady, kConnecting, kBackoff };

    CollectorAddress address;
    sockaddr_storage sa{};
    socklen_t sa_len = 0;
    int fd = -1;
    State state = State::kBackoff;
    bool needs_templates = false;   // TCP: a new connection, templates go first
    uint64_t retry_at_ms = 0;
    uint32_t backoff_ms = kInitialBackoffMs;

    // TCP output: whole messages in out[head, tail), their sizes in a ring.
    struct Queued {
        uint32_t bytes;
        uint32_t flow_records;
        bool templates;  // template-only message put in front after a connect
    };
    std::vector<uint8_t> out;
    size_t head = 0, tail = 0, front_sent = 0;
    std::vector<Queued> queue;
    size_t q_head = 0, q_count = 0;
    size_t limit = 0;

    bool tcp() const { return address.transport == CollectorAddress::Transport::kTcp; }
    size_t queued_bytes() const { return tail - head; }

    ~CollectorLink() {
        if (fd >= 0) ::close(fd);
    }

    Status open_socket(uint64_t now_ms) {
        const int type = (tcp() ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
        fd = ::socket(sa.ss_family, type, 0);
        if (fd < 0) return Status::error(std::string("socket: ") + std::strerror(errno));
        // UDP: connect() fixes the peer (no handshake), so send() reports
        // ICMP port unreachable as ECONNREFUSED on a later send.
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sa_len) == 0) {
            state = State::kReady;
            needs_templates = tcp();
            return Status();
        }
        if (tcp() && errno == EINPROGRESS) {
            state = State::kConnecting;
            return Status();
        }
        const int err = errno;
        ::close(fd);
        fd = -1;
        // A TCP collector that is down is retried (poll()); not an error.
        if (tcp()) {
            state = State::kBackoff;
            retry_at_ms = now_ms + backoff_ms;
            backoff_ms = std::min(backoff_ms * 2, kMaxBackoffMs);
            return Status();
        }
        return Status::error(std::string("connect: ") + std::strerror(err));
    }

    // Appends a whole message, or returns false when it does not fit.
    bool append(const uint8_t* msg, size_t len, uint32_t flow_records) {
        if (q_count >= kMaxQueuedMessages || queued_bytes() + len > limit) return false;
        if (tail + len > out.size()) compact();
        std::memcpy(out.data() + tail, msg, len);
        tail += len;
        queue[(q_head + q_count++) % queue.size()] = Queued{uint32_t(len), flow_records, false};
        return true;
    }

    // Puts template-only messages in front of everything queued. Only valid
    // right after a (re)connect, when nothing is partially sent.
    void prepend(const std::vector<uint8_t>& bytes, const std::vector<uint32_t>& sizes) {
        // Templates queued for an earlier connection and never sent are
        // replaced, so repeated reconnects cannot grow the buffer.
        while (q_count > 0 && queue[q_head].templates) {
            const uint32_t b = queue[q_head].bytes;
            q_head = (q_head + 1) % queue.size();
            --q_count;
            head += b;
        }
        compact();
        std::memmove(out.data() + bytes.size(), out.data(), tail);
        std::memcpy(out.data(), bytes.data(), bytes.size());
        tail += bytes.size();
        for (size_t i = sizes.size(); i-- > 0;) {
            q_head = (q_head + queue.size() - 1) % queue.size();
            queue[q_head] = Queued{sizes[i], 0, true};
            ++q_count;
        }
    }

    void compact() {
        if (head == 0) return;
        std::memmove(out.data(), out.data() + head, tail - head);
        tail -= head;
        head = 0;
    }

    void pop_front(ExporterStats& st, bool sent) {
        const Queued q = queue[q_head];
        q_head = (q_head + 1) % queue.size();
        --q_count;
        head += q.bytes - front_sent;
        front_sent = 0;
        if (head == tail) head = tail = 0;
        if (sent) {
            st.messages_sent.add();
            st.octets_sent.add(q.bytes);
        } else {
            st.export_errors.add();
            st.records_not_sent.add(q.flow_records);
        }
    }

    // The connection is gone: drop the partly written message (the next
    // connection is a new stream), close, and retry after a backoff.
    void disconnect(uint64_t now_ms, ExporterStats& st) {
        if (fd >= 0) ::close(fd);
        fd = -1;
        if (front_sent > 0) pop_front(st, false);
        state = State::kBackoff;
        needs_templates = false;
        retry_at_ms = now_ms + backoff_ms;
        backoff_ms = std::min(backoff_ms * 2, kMaxBackoffMs);
    }

    // Writes as much as the socket takes without blocking.
    void drain(uint64_t now_ms, ExporterStats& st) {
        while (state == State::kReady && q_count > 0) {
            const ssize_t n = ::send(fd, out.data() + head, tail - head, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
                disconnect(now_ms, st);
                return;
            }
            size_t left = size_t(n);
            while (left > 0) {
                const size_t rest = queue[q_head].bytes - front_sent;
                if (left >= rest) {
                    left -= rest;
                    pop_front(st, true);
                } else {
                    front_sent += left;
                    head += left;
                    left = 0;
                }
            }
        }
    }

    // Completes a pending connect without waiting.
    void check_connect(uint64_t now_ms, ExporterStats& st) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 0) <= 0) return;
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            disconnect(now_ms, st);
            return;
        }
        state = State::kReady;
        needs_templates = true;
    }
};

// ------------------------------------------------------------ IpfixExporter

IpfixExporter::IpfixExporter() = default;
IpfixExporter::~IpfixExporter() = default;

Status IpfixExporter::open(const ExporterConfig& config) {
    if (Status s = validate(config); !s) return s;
    config_ = config;
    EncoderConfig ec;
    ec.observation_domain_id = config.observation_domain_id;
    ec.observation_point_id = config.observation_point_id;
    ec.biflow = config.biflow;
    ec.detection_elements = config.detection_elements;
    ec.enterprise_number = config.enterprise_number;
    ec.segment_elements = config.segment_elements;
    ec.aggregate_templates = config.aggregate_templates;
    ec.flood_reports = config.flood_reports;
    encoder_ = std::make_unique<IpfixEncoder>(ec);
    buffer_.assign(config.max_message_bytes, 0);
    scratch_.assign(config.max_message_bytes, 0);
    links_.clear();
    for (const CollectorAddress& c : config.collectors) {
        auto link = std::make_unique<CollectorLink>();
        link->address = c;
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = link->tcp() ? SOCK_STREAM : SOCK_DGRAM;
        hints.ai_flags = AI_NUMERICSERV;
        addrinfo* res = nullptr;
        const std::string port = std::to_string(c.port);
        if (int rc = ::getaddrinfo(c.host.c_str(), port.c_str(), &hints, &res); rc != 0)
            return Status::error(std::string("getaddrinfo: ") + gai_strerror(rc)).prefix("collector " + c.text);
        std::memcpy(&link->sa, res->ai_addr, res->ai_addrlen);
        link->sa_len = res->ai_addrlen;
        ::freeaddrinfo(res);
        if (link->tcp()) {
            link->limit = config.tcp_buffer_bytes;
            // Slack for the template messages put in front after a connect.
            link->out.assign(config.tcp_buffer_bytes + 8u * config.max_message_bytes, 0);
            link->queue.assign(kMaxQueuedMessages + 8, {});  // + template messages
        }
        if (Status s = link->open_socket(0); !s) return s.prefix("collector " + c.text);
        links_.push_back(std::move(link));
    }
    begin_message();
    setup_sent_ = false;
    open_ = true;
    return Status();
}

void IpfixExporter::begin_message() {
    message_.begin(std::span<uint8_t>(buffer_.data(), buffer_.size()));
    message_flow_records_ = 0;
}

// Hands the current message to every collector. The sequence number is the
// count of data records (flow and options data) sent before it in this
// domain (RFC 7011 §3.1); a message that could not be sent still advances
// it, so the collector sees the loss as a gap.
void IpfixExporter::flush(uint64_t now_ms) {
    if (message_.empty()) return;
    const size_t len =
        message_.finish(export_time_from_ms(now_ms + wall_offset_ms_), sequence_, config_.observation_domain_id);
    sequence_ += message_.data_records();
    for (auto& l : links_) {
        if (!l->tcp()) {
            const ssize_t n = ::send(l->fd, message_.data(), len, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n == static_cast<ssize_t>(len)) {
                stats_.messages_sent.add();
                stats_.octets_sent.add(len);
            } else {
                stats_.export_errors.add();
                stats_.records_not_sent.add(message_flow_records_);
            }
        } else if (l->append(message_.data(), len, message_flow_records_)) {
            l->drain(now_ms, stats_);
        } else {
            stats_.export_errors.add();
            stats_.records_not_sent.add(message_flow_records_);
        }
    }
    begin_message();
}

// Encodes all templates into template-only messages (they hold no data
// records, so they carry the sequence number of the data that follows).
static void encode_templates(const IpfixEncoder& enc, std::span<uint8_t> buf, uint32_t export_time,
                             uint32_t sequence, uint32_t odid, std::vector<uint8_t>& bytes,
                             std::vector<uint32_t>& sizes) {
    IpfixMessage m;
    for (size_t done = 0; done < enc.template_count();) {
        m.begin(buf);
        done += enc.add_templates(m, done);
        const size_t len = m.finish(export_time, sequence, odid);
        bytes.insert(bytes.end(), m.data(), m.data() + len);
        sizes.push_back(uint32_t(len));
    }
}

void IpfixExporter::send_templates_to(CollectorLink& l, uint64_t now_ms) {
    // RFC 7011 §8: over TCP the templates are sent once per connection,
    // before any data record that uses them.
    const uint32_t seq = l.q_count > 0 ? load_be32(l.out.data() + l.head + 8) : sequence_;
    std::vector<uint8_t> bytes;
    std::vector<uint32_t> sizes;
    encode_templates(*encoder_, scratch_, export_time_from_ms(now_ms + wall_offset_ms_), seq, config_.observation_domain_id,
                     bytes, sizes);
    l.prepend(bytes, sizes);
    l.needs_templates = false;
    stats_.templates_sent.add(sizes.size());
    stats_.tcp_connects.add();
    l.backoff_ms = kInitialBackoffMs;
}

// Templates over UDP (§8.4 periodic resend), then the RFC 5610 type records
// and the statistics record to every collector through the data path.
void IpfixExporter::send_setup(uint64_t now_ms, bool udp_templates, bool type_records) {
    flush(now_ms);
    if (udp_templates) {
        std::vector<uint8_t> bytes;
        std::vector<uint32_t> sizes;
        encode_templates(*encoder_, scratch_, export_time_from_ms(now_ms + wall_offset_ms_), sequence_,
                         config_.observation_domain_id, bytes, sizes);
        for (auto& l : links_) {
            if (l->tcp()) continue;
            size_t off = 0;
            for (uint32_t len : sizes) {
                const ssize_t n = ::send(l->fd, bytes.data() + off, len, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n == static_cast<ssize_t>(len)) {
                    stats_.templates_sent.add();
                    stats_.messages_sent.add();
                    stats_.octets_sent.add(len);
                } else {
                    stats_.export_errors.add();
                }
                off += len;
            }
        }
    }
    for (size_t done = 0; type_records && done < encoder_->type_record_count();) {
        const size_t n = encoder_->add_type_records(message_, done);
        done += n;
        if (done < encoder_->type_record_count()) flush(now_ms);
    }
    const ExportTotals totals{stats_.octets_sent.get(), stats_.messages_sent.get(), stats_.records_exported.get()};
    if (!encoder_->add_process_stats(message_, process_, totals)) {
        flush(now_ms);
        (void)encoder_->add_process_stats(message_, process_, totals);
    }
    flush(now_ms);
    setup_sent_ = true;
    next_refresh_ms_ = now_ms + uint64_t(config_.template_refresh_s) * 1000;
}

// RFC 7011 §8.4: over UDP a collector forgets a template after its
// lifetime (in export time); the refresh must precede the first data set
// exported after it is due, also when the clock jumps (a capture with a
// quiet gap): a record added after the gap must not go out in a message
// stamped long after the last template. The message already started goes
// first, stamped with the time it was started (within the refresh).
void IpfixExporter::refresh_if_due(uint64_t now_ms) {
    if (setup_sent_ && now_ms < next_refresh_ms_) return;
    if (!message_.empty() && message_started_ms_ < now_ms) flush(message_started_ms_);
    send_setup(now_ms, true, true);
}

void IpfixExporter::add(const ConversationRecord& r, uint64_t now_ms) {
    if (!open_) return;
    refresh_if_due(now_ms);
    if (message_.empty()) message_started_ms_ = now_ms;
    int n = encoder_->add_conversation(message_, r);
    if (n < 0) {
        flush(now_ms);
        message_started_ms_ = now_ms;
        n = encoder_->add_conversation(message_, r);  // fits: validate() bounds the record size
        if (n < 0) {
            stats_.export_errors.add();
            stats_.records_not_sent.add(encoder_->records_for(r));
            return;
        }
    }
    message_flow_records_ += uint32_t(n);
    stats_.records_exported.add(uint64_t(n));
}

void IpfixExporter::add_flood_report(const FloodReport& report, uint64_t now_ms) {
    if (!open_ || !config_.flood_reports) return;
    refresh_if_due(now_ms);
    if (message_.empty()) message_started_ms_ = now_ms;
    if (!encoder_->add_flood_report(message_, report)) {
        flush(now_ms);
        message_started_ms_ = now_ms;
        (void)encoder_->add_flood_report(message_, report);  // fits: validate() bounds the message size from below
    }
}

void IpfixExporter::poll(uint64_t now_ms) {
    if (!open_) return;
    refresh_if_due(now_ms);
    if (!message_.empty() && now_ms - message_started_ms_ >= config_.flush_interval_ms) flush(now_ms);
    for (auto& l : links_) {
        if (!l->tcp()) continue;
        if (l->state == CollectorLink::State::kBackoff && now_ms >= l->retry_at_ms) {
            if (Status s = l->open_socket(now_ms); !s) {
                l->disconnect(now_ms, stats_);
                continue;
            }
        }
        if (l->state == CollectorLink::State::kConnecting) l->check_connect(now_ms, stats_);
        if (l->state == CollectorLink::State::kReady) {
            if (l->needs_templates) send_templates_to(*l, now_ms);
            l->drain(now_ms, stats_);
        }
    }
}

void IpfixExporter::close(uint64_t now_ms) {
    if (!open_) return;
    flush(now_ms);
    send_setup(now_ms, false, false);  // the final statistics record
    // Shutdown may wait a little: give TCP collectors up to kCloseDrainMs.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kCloseDrainMs);
    for (auto& l : links_) {
        if (!l->tcp()) continue;
        while (l->q_count > 0 && l->state != CollectorLink::State::kBackoff &&
               std::chrono::steady_clock::now() < deadline) {
            if (l->state == CollectorLink::State::kConnecting) l->check_connect(now_ms, stats_);
            if (l->state == CollectorLink::State::kReady) {
                if (l->needs_templates) send_templates_to(*l, now_ms);
                l->drain(now_ms, stats_);
            }
            if (l->q_count > 0 && l->fd >= 0) {
                pollfd p{l->fd, POLLOUT, 0};
                (void)::poll(&p, 1, 20);
            }
        }
        while (l->q_count > 0) l->pop_front(stats_, false);
        if (l->fd >= 0) ::close(l->fd);
        l->fd = -1;
    }
    for (auto& l : links_) {
        if (l->fd >= 0) ::close(l->fd);
        l->fd = -1;
    }
    open_ = false;
}

}  // namespace flowgen

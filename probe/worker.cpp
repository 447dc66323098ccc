#include "probe/worker.hpp"

#include <chrono>
#include <new>
#include <thread>

namespace probe {

using flowgen::ConversationRecord;
using flowgen::EndReason;
using flowgen::ParseStatus;

Worker::Worker(const WorkerSettings& settings) : settings_(settings) {}

flowgen::Status Worker::init() {
    settings_.cache.worker_id = settings_.id;
    if (flowgen::Status s = cache_.init(settings_.cache); !s.ok()) return s;
    if (settings_.detect) {
        if (!settings_.detection) return flowgen::Status::error("worker: detection enabled without a configuration");
        if (flowgen::Status s = detectors_.init(*settings_.detection); !s.ok()) return s;
        detect_state_.reset(new (std::nothrow) detect::ConversationState[cache_.capacity()]());
        if (!detect_state_)
            return flowgen::Status::error("detector state: cannot allocate " +
                                          std::to_string(sizeof(detect::ConversationState) * cache_.capacity()) +
                                          " bytes");
    }
    records_ = std::make_unique<RecordQueue>(settings_.record_queue);
    alerts_ = std::make_unique<AlertQueue>(settings_.alert_queue);
    return {};
}

// Hands a finished record (whole conversation or active-timeout slice) to the
// exporter; the detectors' verdict travels with it.
void Worker::emit(const ConversationRecord& r, uint32_t slot) noexcept {
    const ConversationRecord* out = &r;
    ConversationRecord with_verdict;
    if (detect_state_) {
        with_verdict = r;
        with_verdict.detection = detectors_.summarize(detect_state_[slot]);
        out = &with_verdict;
    }
    if (__builtin_expect(records_->push(*out), 1)) {
        stats_.records_queued.add();
        return;
    }
    if (wait_on_full_) {
        // Shutdown only: the exporter is draining; 2 s at most, then count.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (std::chrono::steady_clock::now() < deadline) {
            std::this_thread::yield();
            if (records_->push(*out)) {
                stats_.records_queued.add();
                return;
            }
        }
    }
    if (overflow_) {
        overflow_(overflow_context_, *out);
        stats_.records_queued.add();
        return;
    }
    stats_.records_dropped.add();
}

void Worker::raise_alert(uint32_t slot, uint64_t now_ms) noexcept {
    AlertEvent ev;
    cache_.snapshot(slot, now_ms, EndReason::kIdleTimeout, ev.conversation);
    ev.conversation.detection = detectors_.summarize(detect_state_[slot]);
    ev.time_ms = now_ms;
    stats_.alerts.add();
    if (!alerts_->push(ev)) stats_.alerts_dropped.add();
}

void Worker::handle_parsed(const flowgen::PacketInfo& p, ParseStatus status, size_t frame_bytes, uint64_t now_ms,
                           uint16_t port) noexcept {
    stats_.rx_packets.add();
    stats_.rx_bytes.add(frame_bytes);
    if (__builtin_expect(status != ParseStatus::kIcmp, 0)) {
        // Most of a SPAN port: counted by kind and dropped here.
        switch (status) {
        case ParseStatus::kOther:
            stats_.other_packets.add();
            if (p.l4_protocol == 6)
                stats_.tcp_packets.add();
            else if (p.l4_protocol == 17)
                stats_.udp_packets.add();
            else
                stats_.other_ip_packets.add();
            break;
        case ParseStatus::kNotIp:
            stats_.other_packets.add();
            stats_.non_ip_packets.add();
            break;
        default:
            stats_.malformed_packets.add();
            break;
        }
        return;
    }
    stats_.icmp_packets.add();
    stats_.icmp_octets.add(p.ip_length);
    stats_.icmp_frame_bytes.add(frame_bytes);

    flowgen::FlowKey key;
    bool reply = false;
    if (p.has_icmp_header) {
        reply = flowgen::make_key(p, key);
        if (p.is_fragment) fragments_.remember(p, key);
    } else if (!fragments_.key_for(p, key)) {
        stats_.unattributed_fragments.add();
    }

    auto sink = [this](const ConversationRecord& r, uint32_t slot) { emit(r, slot); };
    const flowgen::FlowCache::Hit hit = cache_.update(key, reply, p, port, now_ms, sink);

    if (detect_state_) {
        detect::ConversationState& st = detect_state_[hit.slot];
        if (hit.created) st = detect::ConversationState{};
        if (detectors_.on_packet(st, p, hit.dir, now_ms)) raise_alert(hit.slot, now_ms);
    }
}

void Worker::expire(uint64_t now_ms) noexcept {
    cache_.expire(now_ms, [this](const ConversationRecord& r, uint32_t slot) { emit(r, slot); });
}

void Worker::flush(uint64_t now_ms, EndReason reason) noexcept {
    cache_.flush_all(now_ms, reason, [this](const ConversationRecord& r, uint32_t slot) { emit(r, slot); });
}

}  // namespace probe

#include "probe/worker.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>
#include <thread>

namespace probe {

// Bucket index lines are prefetched this many packets ahead: pass 1 starts
// the first kIndexAhead, pass 2 keeps the distance. Prefetching a whole
// burst's lines at once in pass 1 is slower on cache-resident inputs and no
// faster on memory-bound ones (pipeline_bench; docs/performance.md).
constexpr long kIndexAhead = 8;

using flowgen::ConversationRecord;
using flowgen::EndReason;
using flowgen::ParseStatus;

Worker::Worker(const WorkerSettings& settings) : settings_(settings) {}

flowgen::Status Worker::init() {
    settings_.cache.worker_id = settings_.id;
    if (flowgen::Status s = cache_.init(settings_.cache); !s.ok()) return s;
    if (flowgen::Status s = dedup_.init(settings_.dedup_window_ms); !s.ok()) return s;
    if (flowgen::Status s = fold_.init(settings_.fold); !s.ok()) return s;
    if (settings_.detect) {
        if (!settings_.detection) return flowgen::Status::error("worker: detection enabled without a configuration");
        if (flowgen::Status s = detectors_.init(*settings_.detection, settings_.senders, settings_.patterns); !s.ok())
            return s;
        detectors_.count_scan_errors_in(&stats_.pattern_scan_errors);
        // Address space for the cache's largest size; resident as it grows.
        if (!detect_state_.allocate(cache_.capacity(), cache_.max_capacity()))
            return flowgen::Status::error("detector state: cannot allocate " +
                                          std::to_string(sizeof(detect::ConversationState) * cache_.capacity()) +
                                          " bytes");
        // A growing table (offline) takes the detector state along.
        cache_.set_relocator({&Worker::relocate_state, this});
        if (settings_.detection->flood_pps != 0) {
            flood_.reset(new (std::nothrow) detect::FloodTracker);
            if (!flood_)
                return flowgen::Status::error("flood tracker: cannot allocate " +
                                              std::to_string(sizeof(detect::FloodTracker)) + " bytes");
            // The monitor merges the workers: one worker reports a victim
            // from 1/64 of the rate (64 workers at most, --interface-queues),
            // so a flood spread evenly over the workers is never missed.
            flood_->init(std::max<uint32_t>(1, settings_.detection->flood_pps / 64));
        }
    }
    // Allocated (and zeroed: ConversationRecord's initialisers) by the
    // calling thread, the worker's lcore on live ports (probe/numa.hpp).
    try {
        records_ = std::make_unique<RecordQueue>(settings_.record_queue);
        alerts_ = std::make_unique<AlertQueue>(settings_.alert_queue);
        floods_ = std::make_unique<FloodQueue>(settings_.flood_queue);
    } catch (const std::bad_alloc&) {
        return flowgen::Status::error("record, alert and flood queues: cannot allocate " +
                                      std::to_string(sizeof(ConversationRecord) * settings_.record_queue +
                                                     sizeof(AlertEvent) * settings_.alert_queue +
                                                     sizeof(detect::FloodSample) * settings_.flood_queue) +
                                      " bytes");
    }
    return {};
}

bool Worker::relocate_state(void* context, uint32_t new_capacity, const uint32_t* new_slot,
                            uint32_t old_capacity) {
    // In place (the address space was reserved at init): entries move up.
    Worker& w = *static_cast<Worker*>(context);
    w.detect_state_.grow(new_capacity);
    for (uint32_t s = 0; s < old_capacity; ++s)
        if (new_slot[s] != flowgen::SlotRelocator::kNoSlot && new_slot[s] != s) w.detect_state_[new_slot[s]] = w.detect_state_[s];
    return true;
}

// Hands a finished record (whole conversation or active-timeout slice) to the
// exporter with the detectors' verdict, or folds a one-packet conversation
// into an aggregate (--fold-above).
void Worker::emit(const ConversationRecord& r, uint32_t slot) noexcept {
    // An alerted conversation keeps its own record: its verdict reaches the
    // collector (one line-1 field of its detector state says so).
    if (fold_.enabled() && flowgen::SingletonFold::is_singleton(r) &&
        !(detect_state_ && detect_state_[slot].alerted_score != 0)) {
        // Past --fold-above one-packet conversations in this second, the
        // record joins an aggregate (flowgen/singleton_fold.hpp) and costs
        // no detector summary. Records end at or before now: their times
        // keep the fold's clock within the current burst.
        const int d = r.dir[0].packets != 0 ? 0 : 1;
        fold_clock_ms_ = std::max(fold_clock_ms_, r.dir[d].last_ms);
        const flowgen::FoldOutcome outcome =
            fold_.offer(r, fold_clock_ms_, [this](const ConversationRecord& a) { emit_aggregate(a); });
        if (outcome != flowgen::FoldOutcome::kExport) {
            stats_.singletons_folded.add();
            if (outcome == flowgen::FoldOutcome::kFoldedCatchAll) stats_.fold_catch_all.add();
            return;
        }
    }
    if (detect_state_) {
        ConversationRecord with_verdict = r;
        with_verdict.detection = detectors_.summarize(detect_state_[slot]);
        queue_record(with_verdict);
    } else {
        queue_record(r);
    }
}

void Worker::queue_record(const ConversationRecord& r) noexcept {
    if (__builtin_expect(records_->push(r), 1)) {
        stats_.records_queued.add();
        return;
    }
    if (wait_on_full_) {
        // Shutdown only: the exporter is draining; 2 s at most, then count.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (std::chrono::steady_clock::now() < deadline) {
            std::this_thread::yield();
            if (records_->push(r)) {
                stats_.records_queued.add();
                return;
            }
        }
    }
    if (overflow_) {
        overflow_(overflow_context_, r);
        stats_.records_queued.add();
        return;
    }
    stats_.flows_dropped.add();
}

void Worker::raise_alert(uint32_t slot, const flowgen::PacketInfo& p, uint64_t now_ms) noexcept {
    AlertEvent ev;
    cache_.snapshot(slot, now_ms, EndReason::kIdleTimeout, ev.conversation);
    ev.conversation.detection = detectors_.summarize(detect_state_[slot]);
    ev.detector_state = detect_state_[slot];
    ev.time_ms = now_ms;
    ev.fingerprint_id = p.payload ? detectors_.fingerprint({p.payload, p.payload_length}) : 0;
    if (settings_.detection->emit_payload_hex && p.payload) {
        ev.payload_length = static_cast<uint16_t>(std::min<size_t>(p.payload_length, AlertEvent::kMaxPayload));
        std::memcpy(ev.payload, p.payload, ev.payload_length);
    }
    stats_.alerts.add();
    if (!alerts_->push(ev)) stats_.alerts_dropped.add();
}

void Worker::close_flood_interval(uint64_t now_ms) noexcept {
    detect::FloodSample out[detect::FloodTracker::kMaxReports];
    const uint32_t n = flood_->close_interval(now_ms, out);
    for (uint32_t i = 0; i < n; ++i)
        if (!floods_->push(out[i])) stats_.flood_samples_dropped.add();
}

void Worker::fill_top(uint64_t now_ms) noexcept {
    const uint32_t want = top_.requested.load(std::memory_order_acquire);
    // Keep the kMax conversations with the most octets (both directions).
    struct Entry {
        uint64_t octets;
        uint32_t slot;
    } best[TopConversations::kMax];
    size_t n = 0;
    cache_.for_each([&](uint32_t slot, const flowgen::Conversation&) {
        const uint64_t octets = cache_.octets(slot);
        if (n == TopConversations::kMax && octets <= best[n - 1].octets) return;
        size_t i = n < TopConversations::kMax ? n++ : n - 1;
        for (; i > 0 && best[i - 1].octets < octets; --i) best[i] = best[i - 1];
        best[i] = {octets, slot};
    });
    for (size_t i = 0; i < n; ++i) {
        cache_.snapshot(best[i].slot, now_ms, EndReason::kIdleTimeout, top_.items[i]);
        if (detect_state_) top_.items[i].detection = detectors_.summarize(detect_state_[best[i].slot]);
    }
    top_.count = n;
    top_.served.store(want, std::memory_order_release);
}

void Worker::count_other(const flowgen::PacketInfo& p, ParseStatus status) noexcept {
    switch (status) {
    case ParseStatus::kOther:
        stats_.other_packets.add();
        stats_.other_ip_octets.add(p.ip_length);  // the parser sets it for kOther
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
}

bool Worker::key_of(const flowgen::PacketInfo& p, flowgen::FlowKey& key) noexcept {
    if (p.has_icmp_header) {
        const bool reply = flowgen::make_key(p, key);
        if (p.is_fragment) fragments_.remember(p, key);
        return reply;
    }
    if (!fragments_.key_for(p, key)) stats_.unattributed_fragments.add();
    return false;
}

inline void Worker::account(const flowgen::PacketInfo& p, const flowgen::FlowKey& key, uint64_t hash, bool reply,
                            uint16_t port, uint64_t now_ms) noexcept {
    auto sink = [this](const ConversationRecord& r, uint32_t slot) { emit(r, slot); };
    const flowgen::FlowCache::Hit hit = cache_.update(key, hash, reply, p, port, now_ms, sink);
    if (detect_state_) {
        detect::ConversationState& st = detect_state_[hit.slot];
        if (hit.created) {
            detect::start_conversation(st);
            // The flood tracker sees new conversations only: an existing
            // conversation's packets cost it nothing.
            if (flood_) {
                if (__builtin_expect(flood_->interval_due(now_ms), 0)) close_flood_interval(now_ms);
                flood_->add(p, now_ms);
            }
        }
        if (detectors_.on_packet(st, p, hit.dir, now_ms)) raise_alert(hit.slot, p, now_ms);
    }
}

// Pass 2 of handle(): kAhead packets ahead, read the
// (prefetched) index line and start loading the conversation and detector
// state the update will touch; then update. kAhead = 4 covers the latency of
// a line from memory at ~30-60 ns of work per packet (pipeline_bench).
void Worker::account_pending(const Pending* pending, unsigned np, uint64_t now_ms) noexcept {
    constexpr unsigned kAhead = 4;
    auto prefetch_slot = [this, now_ms](const Pending& w) {
        const uint32_t slot = cache_.prefetch_slot(w.hash, now_ms);
        if (detect_state_) {
            // The first line only: the second is written by inspection,
            // which a steady conversation does 1 packet in 16 after its
            // first 64 and a flood's new conversation not at all
            // (detect::start_conversation).
            flowgen::prefetch(&detect_state_[slot]);
        }
    };
    for (unsigned j = 0; j < kAhead && j < np; ++j) prefetch_slot(pending[j]);
    for (unsigned j = 0; j < np; ++j) {
        if (j + kIndexAhead < np) cache_.prefetch(pending[j + kIndexAhead].hash);
        if (j + kAhead < np) prefetch_slot(pending[j + kAhead]);
        const Pending& w = pending[j];
        account(*w.info, w.key, w.hash, w.reply, w.port, now_ms);
    }
}

// Pass 1 for one ICMP packet: key and hash, and for the first kIndexAhead
// start loading the index line of its bucket (one likely cache miss per
// packet, overlapped with the work on other packets). The fragment map sees
// packets in arrival order, as with handle().
inline void Worker::stage(Pending& w, const flowgen::PacketInfo& p, uint16_t port) noexcept {
    w.info = &p;
    w.port = port;
    w.reply = key_of(p, w.key);
    w.hash = flowgen::hash_key(w.key);
    if (&w - burst_pending_ < kIndexAhead) cache_.prefetch(w.hash);
    if (detect_state_) detectors_.prefetch_sender(p);
}

void Worker::handle(const ParsedFrame* frames, unsigned n, uint64_t now_ms) noexcept {
    Pending* const pending = burst_pending_;
    while (n > 0) {
        const unsigned m = n < kPassSize ? n : kPassSize;
        unsigned np = 0;
        uint64_t rx_bytes = 0, icmp_octets = 0, icmp_bytes = 0;
        if (dedup_.enabled()) {
            // Pass 0: the deduplicator's entries, hashed and prefetched.
            for (unsigned i = 0; i < m; ++i)
                if (frames[i].status == ParseStatus::kIcmp) {
                    dedup_hash_[i] = flowgen::mirror_hash(frames[i].info);
                    dedup_.prefetch(dedup_hash_[i]);
                }
        }
        for (unsigned i = 0; i < m; ++i) {
            const ParsedFrame& f = frames[i];
            rx_bytes += f.frame_bytes;
            count_encapsulations(f.info, f.status);
            if (__builtin_expect(f.status != ParseStatus::kIcmp, 0)) {
                count_other(f.info, f.status);
                continue;
            }
            if (dedup_.enabled() && dedup_.duplicate(dedup_hash_[i], now_ms)) {
                stats_.mirror_duplicates.add();
                continue;
            }
            icmp_octets += f.info.ip_length;
            icmp_bytes += f.frame_bytes;
            stage(pending[np++], f.info, f.port);
        }
        // The counters once per pass, not per frame.
        stats_.rx_packets.add(m);
        stats_.rx_bytes.add(rx_bytes);
        if (np) {
            stats_.icmp_packets.add(np);
            stats_.icmp_octets.add(icmp_octets);
            stats_.icmp_frame_bytes.add(icmp_bytes);
            account_pending(pending, np, now_ms);
        }
        frames += m;
        n -= m;
    }
}

void Worker::expire(uint64_t now_ms) noexcept {
    // An interval ends on time also when no conversation is created.
    if (flood_ && flood_->interval_due(now_ms)) close_flood_interval(now_ms);
    cache_.expire(now_ms, [this](const ConversationRecord& r, uint32_t slot) { emit(r, slot); });
    if (fold_.enabled()) {
        // Aggregates go out when their second has ended, not at the next
        // one-packet conversation (which a flood's end may never bring).
        fold_clock_ms_ = std::max(fold_clock_ms_, now_ms);
        fold_.close_second(fold_clock_ms_, [this](const ConversationRecord& a) { emit_aggregate(a); });
    }
}

void Worker::flush(uint64_t now_ms, EndReason reason) noexcept {
    if (flood_) close_flood_interval(now_ms);  // the last, partial interval
    cache_.flush_all(now_ms, reason, [this](const ConversationRecord& r, uint32_t slot) { emit(r, slot); });
    fold_.flush([this](const ConversationRecord& a) { emit_aggregate(a); });
}

}  // namespace probe

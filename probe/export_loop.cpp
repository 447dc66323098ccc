#include "probe/export_loop.hpp"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <thread>

#include "detect/conversation_json.hpp"
#include "probe/run_control.hpp"
#include "probe/stats.hpp"

namespace probe {

namespace {

// The --stats-json file is created 0640 whatever the umask says, as LogFile
// does for alerts and conversations: its counters describe the monitored
// hosts' traffic.
std::FILE* open_output(const std::string& path, int flags, const char* mode, std::string& why) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0640);
    if (fd < 0) {
        why = std::strerror(errno);
        return nullptr;
    }
    std::FILE* f = ::fdopen(fd, mode);
    if (!f) {
        why = std::strerror(errno);
        ::close(fd);
    }
    return f;
}

}  // namespace

ExportLoop::ExportLoop() = default;

ExportLoop::~ExportLoop() {
    if (stats_json_) std::fclose(stats_json_);
}

flowgen::Status ExportLoop::open(const Config& config, const detect::Pipeline* names) {
    names_ = names;
    if (!config.exporter.collectors.empty()) {
        exporter_ = std::make_unique<flowgen::IpfixExporter>();
        flowgen::ExporterConfig ec = config.exporter;
        // Without detection there is no verdict to carry.
        if (!config.detect) ec.detection_elements = false;
        // The segment of mirrored traffic (README "Remote and cloud mirrors").
        ec.segment_elements = true;
        // Aggregates of one-packet conversations (--fold-above).
        ec.aggregate_templates = config.fold.singles_per_second != 0;
        // The closing report of each flood (options template, RFC 7011 §3.4.2.2).
        ec.flood_reports = config.detect && config.detection.flood_pps != 0;
        if (flowgen::Status s = exporter_->open(ec); !s.ok()) return s;
    }
    if (!config.alerts_path.empty())
        if (flowgen::Status s = alerts_.open(config.alerts_path, "alerts"); !s.ok()) return s;
    if (!config.conversations_path.empty()) {
        if (flowgen::Status s = conversations_.open(config.conversations_path, "conversations"); !s.ok()) return s;
        line_.reserve(1024);
    }
    reopen_seen_ = reopen_generation();
    if (!config.stats_json_path.empty()) {
        // Written at the end, opened now (see open()). Not truncated yet: a
        // run that fails to start leaves the last one's.
        std::string why;
        stats_json_ = open_output(config.stats_json_path, 0, "w", why);
        if (!stats_json_) return flowgen::Status::error("stats json " + config.stats_json_path + ": " + why);
    }
    alerts_syslog_ = config.alerts_syslog;
    // --pcap has one worker, whose samples come in order: no wait for late ones.
    if (config.detect)
        floods_.init(config.detection, 1000, config.pcap_path.empty() ? detect::FloodMonitor::kLateMs : 0);
    rate_ = export_rate_for(config);
    tokens_ = rate_ * kBurstSeconds;
    refilled_at_ = monotonic_seconds();
    // LOG_NDELAY: connect to /dev/log now, before a switch to another user.
    if (alerts_syslog_) openlog("echoflow", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    return {};
}

const flowgen::ExporterStats* ExportLoop::exporter_stats() const noexcept {
    return exporter_ ? &exporter_->stats() : nullptr;
}

void ExportLoop::set_wall_offset_ms(int64_t offset_ms) noexcept {
    wall_offset_ms_ = offset_ms;
    if (exporter_) exporter_->set_wall_offset_ms(offset_ms);
}

namespace {
void shift_times(flowgen::ConversationRecord& r, int64_t offset_ms) noexcept {
    for (flowgen::DirectionCounters& d : r.dir) {
        if (d.packets == 0) continue;  // 0 means "no packets", not a time
        d.first_ms += static_cast<uint64_t>(offset_ms);
        d.last_ms += static_cast<uint64_t>(offset_ms);
    }
}
}  // namespace

void ExportLoop::add_record(const flowgen::ConversationRecord& r, uint64_t now_ms) {
    flows_exported_.add();
    const flowgen::ConversationRecord* out = &r;
    flowgen::ConversationRecord wall;
    if (wall_offset_ms_ != 0) {
        wall = r;
        shift_times(wall, wall_offset_ms_);
        out = &wall;
    }
    if (behind_) records_paced_.add();
    if (exporter_) exporter_->add(*out, now_ms);
    if (conversations_.enabled()) {
        line_.clear();
        detect::format_conversation_json(*out, names_, now_ms + static_cast<uint64_t>(wall_offset_ms_), line_);
        conversations_.write(line_);
    }
}

void ExportLoop::reopen_logs() {
    for (LogFile* f : {&alerts_, &conversations_}) {
        f->flush();
        // One line per SIGHUP, not per record: the file stays closed and
        // what would have gone to it is counted until the next SIGHUP.
        if (flowgen::Status s = f->reopen(); !s.ok()) std::fprintf(stderr, "echoflow: %s\n", s.message().c_str());
    }
}

bool ExportLoop::have_token() noexcept {
    if (rate_ <= 0) return true;
    if (tokens_ < 1) {
        const double now = monotonic_seconds();
        tokens_ = std::min(tokens_ + (now - refilled_at_) * rate_, std::max(1.0, rate_ * kBurstSeconds));
        refilled_at_ = now;
    }
    return tokens_ >= 1;
}

void ExportLoop::spend_token() noexcept {
    if (rate_ > 0) tokens_ -= 1;
}

void ExportLoop::wait_for_token() noexcept {
    if (!have_token()) behind_ = true;
    while (!have_token()) {
        // The time one token takes, at most 1 ms: the loop wakes in time.
        const double wait_s = std::min(0.001, (1 - tokens_) / rate_);
        std::this_thread::sleep_for(std::chrono::duration<double>(wait_s));
    }
}

// The single-threaded modes: the worker's queue is full, the record goes
// now (waiting for the export rate: a file can wait).
void ExportLoop::overflow_to_exporter(void* self, const flowgen::ConversationRecord& r) {
    auto* loop = static_cast<ExportLoop*>(self);
    loop->wait_for_token();
    loop->spend_token();
    loop->add_record(r, loop->last_now_ms_);
}

void ExportLoop::write_alert(const AlertEvent& ev) {
    alerts_written_.add();
    if (!alerts_.enabled() && !alerts_syslog_) return;
    line_.clear();
    flowgen::ConversationRecord conversation = ev.conversation;
    shift_times(conversation, wall_offset_ms_);
    detect::format_alert_json(conversation, *names_, ev.time_ms + static_cast<uint64_t>(wall_offset_ms_), line_,
                              {ev.payload, ev.payload_length}, ev.fingerprint_id, &ev.detector_state);
    write_line();
}

void ExportLoop::write_line() {
    if (alerts_.enabled()) {
        alerts_.write(line_);  // one line, newline included
        // An analyst tails this file: every alert is visible as it happens.
        alerts_.flush();
    }
    if (alerts_syslog_) syslog(LOG_WARNING, "%s", line_.c_str());
}

void ExportLoop::write_floods() {
    for (const detect::FloodEvent& e : floods_.events()) {
        if (e.alert) {
            alerts_written_.add();
            if (alerts_.enabled() || alerts_syslog_) {
                line_.clear();
                detect::format_flood_json(e, wall_offset_ms_, line_);
                write_line();
            }
        }
        if (e.kind != detect::FloodEvent::Kind::kEnd || !exporter_) continue;
        // The flood's packets are in flow records already: the report
        // carries its own elements, never packetDeltaCount/octetDeltaCount,
        // so a collector's totals do not change.
        flowgen::FloodReport r;
        r.family = e.victim.family;
        r.victim = e.victim.address;
        r.vlan_id = e.victim.vlan_id;
        r.segment_type = e.victim.segment_type;
        r.segment_id = e.victim.segment_id;
        r.start_ms = e.start_ms + static_cast<uint64_t>(wall_offset_ms_);
        r.end_ms = e.end_ms + static_cast<uint64_t>(wall_offset_ms_);
        r.packets = e.packets;
        r.octets = e.octets;
        r.sources = e.sources;
        r.peak_pps = e.peak_pps;
        r.peak_bps = e.peak_bps;
        exporter_->add_flood_report(r, last_now_ms_);
    }
    floods_.clear_events();
}

size_t ExportLoop::drain(std::span<Worker* const> workers, uint64_t now_ms) {
    last_now_ms_ = now_ms;
    size_t popped = 0;
    flowgen::ConversationRecord r;
    AlertEvent ev;
    detect::FloodSample flood;
    for (Worker* w : workers) {
        // Bounded so that one busy worker cannot starve the others' queues
        // or the exporter's timers.
        for (int i = 0; i < 4096 && have_token() && w->records().pop(r); ++i, ++popped) {
            spend_token();
            add_record(r, now_ms);
        }
        for (int i = 0; i < 256 && w->alerts().pop(ev); ++i, ++popped) write_alert(ev);
        for (int i = 0; i < 256 && w->floods().pop(flood); ++i, ++popped) floods_.add(flood);
    }
    if (floods_.enabled()) {
        floods_.tick(now_ms);
        write_floods();
    }
    if (rate_ > 0) {
        // Records left waiting for the rate are late; once every queue has
        // run empty the export has caught up with the traffic.
        bool waiting = false;
        for (Worker* w : workers) waiting = waiting || w->records().size() > 0;
        if (!waiting)
            behind_ = false;
        else if (!have_token())
            behind_ = true;
    }
    return popped;
}

void ExportLoop::drain_all(std::span<Worker* const> workers, uint64_t now_ms) {
    for (;;) {
        while (drain(workers, now_ms) > 0) {
        }
        bool left = false;
        for (Worker* w : workers)
            left = left || w->records().size() > 0 || w->alerts().size() > 0 || w->floods().size() > 0;
        if (!left) return;
        wait_for_token();  // rate-limited: records wait in the queues
    }
}

namespace {
flowgen::ProcessStats process_stats(const RunStats& t) {
    flowgen::ProcessStats p{};
    p.observed_packets = t.icmp_packets;
    p.observed_octets = t.icmp_octets;
    p.ignored_packets = t.other_packets + t.malformed_packets + t.mirror_duplicates;
    // IP octets, as observedOctetTotalCount counts them (IANA IE 165:
    // "octets ... ignored by the Metering Process", octets being IP octets
    // throughout RFC 7012); frames without IP (ARP, malformed) add none.
    p.ignored_octets = t.other_ip_octets;
    p.observed_flows = t.flows_created;
    p.not_sent_flows = t.flows_dropped;
    return p;
}
}  // namespace

void ExportLoop::poll(uint64_t now_ms, const RunStats& totals) {
    last_now_ms_ = now_ms;
    if (const uint32_t g = reopen_generation(); g != reopen_seen_) {
        reopen_seen_ = g;
        reopen_logs();
    }
    // Buffered between polls: one write(2) per buffer, not per record.
    conversations_.flush();
    if (!exporter_) return;
    exporter_->set_process_stats(process_stats(totals));
    exporter_->poll(now_ms);
}

void ExportLoop::close(uint64_t now_ms, const RunStats& totals) {
    // The end of the input ends every flood: its closing report goes out
    // before the final messages.
    last_now_ms_ = now_ms;
    floods_.finish(now_ms);
    write_floods();
    if (exporter_) {
        exporter_->set_process_stats(process_stats(totals));
        exporter_->close(now_ms);
    }
    alerts_.close();
    conversations_.close();
    // Not silent: a failed reopen or a full disk cost lines.
    for (const LogFile* f : {&alerts_, &conversations_})
        if (f->lines_lost() != 0)
            std::fprintf(stderr, "echoflow: %s %s: %" PRIu64 " lines lost (write error or failed reopen)\n", f->what(),
                         f->path().c_str(), f->lines_lost());
    if (alerts_syslog_) closelog();
}

}  // namespace probe

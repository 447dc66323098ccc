#include "tests/bpf/capture_file.hpp"

#include <pcap/pcap.h>

namespace tests::bpf {

bool read_capture(const std::string& path, CaptureFile& out, std::string& error) {
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t* pcap = pcap_open_offline(path.c_str(), errbuf);
    if (pcap == nullptr) {
        error = errbuf;
        return false;
    }
    out.link = pcap_datalink(pcap);
    out.frames.clear();
    pcap_pkthdr* header;
    const u_char* data;
    int rc;
    while ((rc = pcap_next_ex(pcap, &header, &data)) == 1) out.frames.emplace_back(data, data + header->caplen);
    if (rc == PCAP_ERROR) error = pcap_geterr(pcap);
    pcap_close(pcap);
    return rc != PCAP_ERROR;
}

}  // namespace tests::bpf

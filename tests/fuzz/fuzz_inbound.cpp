// Processor::inbound on anything from the network, against the receiver of fuzz_rig.hpp (one
// inbound SA group per transform combination). Input: one byte whose low bit says the packet came
// UDP-encapsulated (RFC 3948), then the IP packet. Seeds: valid packets of every flow
// (make_seeds). An SA whose replay window an input moved is replaced by a fresh one, so every
// input meets the same state and a crash reproduces from its input alone.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>

#include "netpath/ip_header.hpp"
#include "netpath/processor.hpp"
#include "tests/fuzz/fuzz_rig.hpp"

using namespace ipsecfs;
using namespace ipsecfs::netpath;

namespace {

struct Receiver {
    std::unique_ptr<Sadb> sadb = fuzz::make_gateway(false);
    DataplaneStatus status;
    Processor processor{status};
    std::map<Said, Command> replace;  // brings an SA back with a fresh replay window

    Receiver() {
        const auto all = fuzz::flows();
        for (std::size_t i = 0; i < all.size(); ++i) {
            for (auto args : fuzz::sa_commands(all[i], i)) {
                args.push_back("--replace");
                replace.emplace(*Said::parse(args[2]), *parse_command(args));
            }
        }
    }

    // Replaces each SA whose window an input moved (one SA, not the whole SADB: fast).
    void reset_windows() {
        const auto snap = sadb->snapshot();
        auto tx = sadb->begin();
        bool any = false;
        for (const auto& [said, sa] : snap->sas()) {
            if (sa->counters().seq.get() == 0) continue;
            if (!tx.apply(replace.at(said))) __builtin_trap();
            any = true;
        }
        if (any) tx.commit();
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    static Receiver receiver;
    static auto packet = std::make_unique<Packet>();
    if (size < 1 || size - 1 > Packet::kMaxData) return 0;

    Packet& p = *packet;
    auto area = p.reset();
    std::memcpy(area.data(), data + 1, size - 1);
    p.set_size(size - 1);
    p.outer = OuterInfo{};
    if (data[0] & 1) {
        p.outer.kind = OuterKind::udp;
        p.outer.sport = 4500;
        p.outer.dport = 4500;
    }
    const auto snap = receiver.sadb->snapshot();
    const Outcome r = receiver.processor.inbound(*snap, p, 6'000'000'000);
    if (r.ok) {
        // What goes to the TUN device is a whole IP packet inside the buffer.
        if (!parse_ip(p.bytes())) __builtin_trap();
        if (p.headroom() + p.size() > Packet::kCapacity) __builtin_trap();
    }
    receiver.reset_windows();
    return 0;
}

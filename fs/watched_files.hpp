#pragma once
// The root files a poll() can wait on: those whose lines follow what the SADB holds rather than
// its counters. ipsec_spi lists the SAs, ipsec_eroute the eroutes, ipsec_spigrp the groups; a
// commit that adds, deletes or replaces one of those changes that file. Counters, ages and the
// other files move all the time, so a poll() on them would never wait: they are always readable.

#include <bitset>

#include "core/sadb.hpp"
#include "fs/inode.hpp"

namespace ipsecfs::fs {

using FileSet = std::bitset<kRootFileCount>;

constexpr bool is_watched(RootFile f) {
    return f == RootFile::ipsec_spi || f == RootFile::ipsec_eroute || f == RootFile::ipsec_spigrp;
}

// The watched files whose list differs between two snapshots. An SA counts as changed when its
// instance did (Sa::id()): a replaced SA is a new line even under the same SAID.
FileSet changed_files(const SadbSnapshot& before, const SadbSnapshot& after);

}  // namespace ipsecfs::fs

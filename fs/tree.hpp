#pragma once
// The shape of the tree: which names live in which directory, as pure functions of a snapshot.

#include <array>
#include <optional>
#include <string_view>

#include "core/render.hpp"
#include "core/sadb.hpp"
#include "fs/dir_listing.hpp"
#include "fs/inode.hpp"

namespace ipsecfs::fs {

inline constexpr std::array<std::string_view, kRootFileCount> kRootFileNames = {
    "ipsec_spi",     "ipsec_eroute", "ipsec_spigrp", "ipsec_tncfg",
    "ipsec_version", "stats",        "metrics",      "ipsec_spi.json",
};
inline constexpr std::string_view kSpiDirName = "spi";
inline constexpr std::string_view kLifeDirName = "life";

// Fields whose kSaFieldNames entry is "life/<leaf>" live in the life/ subdirectory.
bool in_life_dir(SaField f);
// The field's name inside its directory: "seq"; "bytes" for life/bytes.
std::string_view leaf_name(SaField f);

// Entry `name` of directory `dir`, nullopt when there is none. An spi/ entry must be the SAID
// exactly as Said::str() prints it (no aliases: a directory has one name). Whether the SA behind
// an sa_dir or life_dir `dir` still exists is for the caller to check.
std::optional<Node> lookup_child(const Node& dir, std::string_view name, const SadbSnapshot& snap);

// The directory holding `node`; the root is its own parent.
Node parent_of(const Node& node);

// Every entry of `dir`, "." and ".." first; spi/ in SAID order.
DirListing list_directory(const Node& dir, const SadbSnapshot& snap);

}  // namespace ipsecfs::fs

#include "fs/watched_files.hpp"

#include <algorithm>

namespace ipsecfs::fs {
namespace {

bool same_sas(const SadbSnapshot& a, const SadbSnapshot& b) {
    return a.size() == b.size() && std::equal(a.sas().begin(), a.sas().end(), b.sas().begin(),
                                              b.sas().end(), [](const auto& x, const auto& y) {
                                                  return x.second->id() == y.second->id();
                                              });
}

bool same_eroutes(const SadbSnapshot& a, const SadbSnapshot& b) {
    return std::equal(a.eroutes().begin(), a.eroutes().end(), b.eroutes().begin(),
                      b.eroutes().end(), [](const Eroute& x, const Eroute& y) {
                          return x.src == y.src && x.dst == y.dst && x.said == y.said;
                      });
}

bool same_groups(const SadbSnapshot& a, const SadbSnapshot& b) {
    return std::equal(
        a.groups().begin(), a.groups().end(), b.groups().begin(), b.groups().end(),
        [](const SaGroupPtr& x, const SaGroupPtr& y) { return x->saids == y->saids; });
}

void mark(FileSet& set, RootFile f) {
    set.set(static_cast<std::size_t>(f));
}

}  // namespace

FileSet changed_files(const SadbSnapshot& before, const SadbSnapshot& after) {
    FileSet changed;
    if (!same_sas(before, after)) mark(changed, RootFile::ipsec_spi);
    if (!same_eroutes(before, after)) mark(changed, RootFile::ipsec_eroute);
    if (!same_groups(before, after)) mark(changed, RootFile::ipsec_spigrp);
    return changed;
}

}  // namespace ipsecfs::fs

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Value parsers for plugin config keys. Plugins cannot call the daemon's config_parse_*(); these
 * accept exactly the same spellings, so every key of every section reads the same way.
 */
#ifndef VIGIL_PLUGINS_CFG_H
#define VIGIL_PLUGINS_CFG_H

#include <stdint.h>

/* 1, yes, y, true, t, on → 1; 0, no, n, false, f, off → 0 (case-insensitive); else -EINVAL. */
int cfg_parse_bool(const char *v);
/* "100M", "512K", "1G", "0", plain bytes; base 1024. -EINVAL if malformed, -ERANGE if too big. */
int cfg_parse_size(const char *s, uint64_t *ret);

#endif /* VIGIL_PLUGINS_CFG_H */

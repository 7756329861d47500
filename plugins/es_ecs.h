/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Canonical record → Elastic Common Schema document, for out_elasticsearch Format=ecs. The
 * mapping is documented field by field in docs/outputs.md ("Elasticsearch", "ECS mapping").
 */
#ifndef VIGIL_ES_ECS_H
#define VIGIL_ES_ECS_H

#include <stddef.h>
#include <stdint.h>

#include "common/json.h"

/*
 * Append one ECS JSON object rendered from the record at @data to @out (no newline). @event_id,
 * when not NULL, becomes event.id. Returns 0, -EBADMSG for a malformed record (@out is then left
 * as it was), or -ENOMEM.
 */
int ecs_render(const uint8_t *data, size_t size, const char *event_id, struct vbuf *out);

#endif /* VIGIL_ES_ECS_H */

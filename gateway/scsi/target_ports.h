/* The cluster's target ports and their relative target port identifiers
 * (SPC-4 4.6.5, 7.8.6.7: unique among the target ports of one SCSI target
 * device, which the cluster is). Node N's iSCSI target port is N, the
 * node id, as its target port group is. Every other target port of the
 * node (an FCoE port: its own N_Port_Name) takes N + 256 * K, K = 1..7,
 * the lowest free: unique across the cluster without coordination, for
 * node ids 1-255. Each node announces its own (SOP_TARGET_PORTS) whenever
 * they differ from what the cluster last applied for it, so REPORT TARGET
 * PORT GROUPS through any node lists every port of every group. */
#ifndef SANGW_TARGET_PORTS_H
#define SANGW_TARGET_PORTS_H

#include <stddef.h>
#include <stdint.h>

#include "../model.h"

struct json_object;

/* A new target port of this node besides its iSCSI one: its relative
 * target port identifier in *rel, announced to the cluster. Returns 0, or
 * -ERANGE / -ENOSPC with a message for the operator. */
int target_port_add(struct gateway *gw, uint16_t *rel, char *err, size_t errlen);
/* The port is gone (its nexuses keep their copy of the id). */
void target_port_remove(struct gateway *gw, uint16_t rel);

/* Announce this node's ports if the cluster's view differs and the node
 * is ready; shared_state_ready_changed() and target_port_add/remove call it. */
void target_ports_kick(struct gateway *gw);

/* sangwd is stopping: announce nothing more, so the ports it announced
 * stay listed in its group while it is away, as when a node dies (the
 * group itself stays listed, Unavailable: alua.h). */
void target_ports_freeze(struct gateway *gw);

/* Apply a SOP_TARGET_PORTS payload from origin_node: 0 or -EINVAL. */
int target_ports_apply(struct gateway *gw, uint32_t origin_node, const void *payload, uint32_t len);

/* Node `node`'s target ports besides its iSCSI one, as announced:
 * copies up to max ids into rel, returns how many. */
unsigned target_ports_extra(const struct gateway *gw, uint32_t node, uint16_t *rel, unsigned max);
/* The node a relative target port identifier belongs to (0: none known). */
uint32_t target_ports_node(const struct gateway *gw, uint16_t rel);

/* State transfer: key "target_ports" of the cluster snapshot,
 * [{"node":N,"ports":[257,...]},...]. Restore returns -EINVAL on
 * malformed data and changes nothing then; a missing key: no ports. */
int target_ports_snapshot(const struct gateway *gw, struct json_object *obj);
int target_ports_restore(struct gateway *gw, const struct json_object *obj);

#endif

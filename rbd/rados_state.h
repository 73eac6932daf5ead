/* The state store in RADOS (gateway/state_store.h): sangwd --state-store
 * rados:POOL[,conf=PATH][,id=CLIENT][,object=NAME][,timeout=SECONDS].
 *
 * One object, NAME in POOL (default "sangw.state"): its data is the stored
 * document (JSON), its xattr "version" the document's state version as 20
 * decimal digits. librados' C API compares xattrs as strings only, so the
 * zero padding makes string order numeric order.
 *
 * A write is one atomic write op: cmpxattr("version", GT, ours) +
 * write_full + setxattr("version", ours). The OSD compares OUR value with
 * the STORED one (ours > stored: go on) and answers -ECANCELED otherwise:
 * someone wrote this version or a newer one already, which is fine. A
 * missing object (-ENOENT) is created with an exclusive create in the same
 * kind of op; losing that race (-EEXIST) goes back to the compare-and-set.
 * (Measured on Ceph 16.2 here: cmpxattr on a missing object -ENOENT,
 * older and equal versions -ECANCELED, newer 0.)
 *
 * Every blocking call runs on the rbd admin thread (rbd_cluster.h) with
 * the handle pool's connection for (conf, id, timeout); the read at
 * start-up waits for that thread at most 3 x timeout + 5 s. */
#ifndef SANGW_RADOS_STATE_H
#define SANGW_RADOS_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "rbd_cluster.h"

#define RADOS_STATE_OBJECT_DEFAULT    "sangw.state"
#define RADOS_STATE_TIMEOUT_DEFAULT_S 10
#define RADOS_STATE_VERSION_XATTR     "version"
#define RADOS_STATE_VERSION_DIGITS    20

struct rados_state_spec {
	char pool[128];
	char object[256];
	struct rbd_cluster_key key;
};

/* "POOL[,conf=PATH][,id=CLIENT][,object=NAME][,timeout=SECONDS]" (the
 * text after "rados:"); 0 or -EINVAL with a message. */
int rados_state_spec_parse(const char *text, struct rados_state_spec *out, char *err,
			   size_t errlen);
/* version as the xattr holds it (buf of at least 21 bytes). */
void rados_state_version_text(uint64_t version, char *buf, size_t len);
/* Admin thread: drop the state store's handle (a fenced node reconnects);
 * the next write connects anew. */
void rados_state_renew(void);

#endif

/* Editing the model on behalf of the configuration: creating and
 * removing targets, LUs and ACLs with what goes with it (their sessions
 * dropped, unit attentions raised for this node's nexuses, objects still
 * referenced by a nexus freed later), portals rebound. */
#include "config_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "event_loop.h"
#include "log.h"
#include "scsi/sense.h"
#include "scsi/ua.h"
#include "util.h"

#define REAP_POLL_MS     100     /* how often a removed target/ACL checks its sessions */

static void drop_nexus(struct it_nexus *nx)
{
	if (nx->fabric && nx->fabric->drop)
		nx->fabric->drop(nx);
}

static bool target_has_nexus(struct gateway *gw, const struct target *t)
{
	struct it_nexus *nx;

	TAILQ_FOREACH(nx, &gw->nexuses, link)
		if (nx->target == t)
			return true;
	return false;
}

static bool acl_has_nexus(struct gateway *gw, const struct acl *acl)
{
	struct it_nexus *nx;

	TAILQ_FOREACH(nx, &gw->nexuses, link)
		if (nx->acl == acl)
			return true;
	return false;
}

unsigned cfg_count_nexuses(struct gateway *gw, const struct target *t, const struct acl *acl)
{
	struct it_nexus *nx;
	unsigned n = 0;

	TAILQ_FOREACH(nx, &gw->nexuses, link)
		if ((t && nx->target == t) || (acl && nx->acl == acl))
			n++;
	return n;
}

/* A removed target or ACL whose sessions were dropped: the fabric
 * unregisters them later, and until then their nexuses still point here.
 * The object is out of the model already; it is freed once unreferenced. */
struct reaper {
	struct gateway *gw;
	struct target *target;
	struct acl *acl;
	struct ev_timer timer;
	unsigned polls;
};

static void reaper_poll(struct event_loop *loop, void *arg)
{
	struct reaper *r = arg;
	bool busy = r->target ? target_has_nexus(r->gw, r->target) : acl_has_nexus(r->gw, r->acl);

	if (busy) {
		if (++r->polls % 100 == 0)
			log_warn("config: removed %s %s still has sessions after %u s",
				 r->target ? "target" : "ACL",
				 r->target ? r->target->iqn : r->acl->initiator,
				 r->polls * REAP_POLL_MS / 1000);
		ev_timer_arm(loop, &r->timer, REAP_POLL_MS);
		return;
	}
	if (r->target) {
		/* target_destroy() unlinks it from gw->targets itself. */
		TAILQ_INSERT_TAIL(&r->gw->targets, r->target, link);
		target_destroy(r->target);
	} else {
		free(r->acl);
	}
	free(r);
}

static void reap_later(struct gateway *gw, struct target *t, struct acl *acl)
{
	struct reaper *r;

	if (!gw->loop || !(r = calloc(1, sizeof(*r)))) {
		log_error("config: cannot defer freeing a removed %s; leaking it", t ? "target" : "ACL");
		return;
	}
	r->gw = gw;
	r->target = t;
	r->acl = acl;
	ev_timer_init(&r->timer, reaper_poll, r);
	ev_timer_arm(gw->loop, &r->timer, REAP_POLL_MS);
}

/* Removing a target drops only its own sessions. */
void cfg_target_remove(struct gateway *gw, struct target *t)
{
	struct it_nexus *nx, *next;
	struct lu *lu;
	bool busy = false;

	log_info("config: removing target %s", t->iqn);
	TAILQ_FOREACH(lu, &t->lus, link)
		lu->removing = true;
	for (nx = TAILQ_FIRST(&gw->nexuses); nx; nx = next) {
		next = TAILQ_NEXT(nx, link);
		if (nx->target == t) {
			drop_nexus(nx);
			busy = true;
		}
	}
	if (busy && target_has_nexus(gw, t)) {
		TAILQ_REMOVE(&gw->targets, t, link);
		reap_later(gw, t, NULL);
		return;
	}
	target_destroy(t);
}

void cfg_acl_remove(struct gateway *gw, struct target *t, struct acl *acl)
{
	struct it_nexus *nx, *next;

	log_info("config: removing ACL %s of %s", acl->initiator, t->iqn);
	TAILQ_REMOVE(&t->acls, acl, link);
	for (nx = TAILQ_FIRST(&gw->nexuses); nx; nx = next) {
		next = TAILQ_NEXT(nx, link);
		if (nx->acl == acl)
			drop_nexus(nx);
	}
	if (acl_has_nexus(gw, acl))
		reap_later(gw, NULL, acl);
	else
		free(acl);
}

struct acl *cfg_acl_insert(struct target *t, const struct acl *from)
{
	struct acl *acl = calloc(1, sizeof(*acl));

	if (!acl)
		return NULL;
	*acl = *from;
	TAILQ_INSERT_TAIL(&t->acls, acl, link);
	return acl;
}

void cfg_lu_remove(struct lu *lu)
{
	log_info("config: removing LUN %llu of %s", (unsigned long long)lu->lun, lu->target->iqn);
	lu->removing = true;
	lu_destroy(lu);
}

/* SPC-4 7.6 / SAM-5 5.14: REPORTED LUNS DATA HAS CHANGED for every nexus
 * of the target on this node. Config operations are applied on every
 * node, so each node establishes the UA for its own nexuses directly. */
void cfg_ua_luns_changed(struct gateway *gw, struct target *t)
{
	struct lu *lu;

	TAILQ_FOREACH(lu, &t->lus, link)
		ua_establish_lu(gw, lu, 0, ASC_REPORTED_LUNS_DATA_HAS_CHANGED);
}

/* An ACL's LUN map changed: only its own nexuses see a new inventory. */
void cfg_ua_acl_view_changed(struct gateway *gw, struct target *t, const struct acl *acl)
{
	struct it_nexus *nx;
	struct lu *lu;
	uint64_t mapped;

	TAILQ_FOREACH(nx, &gw->nexuses, link) {
		if (nx->acl != acl)
			continue;
		TAILQ_FOREACH(lu, &t->lus, link)
			if (acl_maps_lu(acl, lu, &mapped))
				ua_establish(nx, lu_key(lu), ASC_REPORTED_LUNS_DATA_HAS_CHANGED);
	}
}

/* Leaving demo mode: sessions that logged in without an ACL must go. */
static void drop_demo_sessions(struct gateway *gw, struct target *t)
{
	struct it_nexus *nx, *next;

	for (nx = TAILQ_FIRST(&gw->nexuses); nx; nx = next) {
		next = TAILQ_NEXT(nx, link);
		if (nx->target == t && !nx->acl)
			drop_nexus(nx);
	}
}

int cfg_set_demo_mode(struct gateway *gw, struct target *t, bool on)
{
	if (t->demo_mode && !on)
		drop_demo_sessions(gw, t);
	t->demo_mode = on;
	return 0;
}

/* Rebind the listeners to gw->portals. Returns 0 or -EADDRNOTAVAIL with
 * the fabric's message (portals_changed() need not return an errno). */
int cfg_notify_portals(struct gateway *gw, char *err, size_t errlen)
{
	char scratch[256];

	if (!gw->portals_changed)
		return 0;
	if (!err) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	err[0] = '\0';
	return gw->portals_changed(gw, err, errlen) == 0 ? 0 : -EADDRNOTAVAIL;
}

struct portal *cfg_find_portal(struct gateway *gw, const char *addr, uint16_t port,
			       enum portal_transport transport)
{
	struct portal *p;

	TAILQ_FOREACH(p, &gw->portals, link)
		if (p->port == port && p->transport == transport && strcmp(p->addr, addr) == 0)
			return p;
	return NULL;
}

/* The LU already backed by this file or image (two LUs of one node on
 * the same blocks would be two disks sharing them). */
struct lu *cfg_find_backing_user(struct gateway *gw, const char *backstore, const char *path)
{
	struct target *t;
	struct lu *lu;

	TAILQ_FOREACH(t, &gw->targets, link)
		TAILQ_FOREACH(lu, &t->lus, link)
			if (strcmp(lu->spec.backstore, backstore) == 0 && strcmp(lu->spec.path, path) == 0)
				return lu;
	return NULL;
}

int cfg_lowest_free_lun(struct target *t, uint64_t *lun)
{
	for (uint64_t n = 0; n < MAX_LUNS_PER_TARGET; n++) {
		if (!target_find_lu(t, n)) {
			*lun = n;
			return 0;
		}
	}
	return -ENOSPC;
}

struct lu *cfg_create_lu(struct target *t, uint64_t lun, const struct lu_spec *spec,
			 const char *path, char *err, size_t errlen)
{
	char why[512] = "";
	struct lu *lu = lu_create(t, lun, spec, why, sizeof(why));

	if (!lu)
		cfg_failf(-EIO, err, errlen, path, "cannot create LUN %llu: %s", (unsigned long long)lun,
			  why[0] ? why : "backstore open failed");
	return lu;
}

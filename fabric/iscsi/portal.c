/* Network portals: one listener per configured portal, opened by the
 * portal's transport (transport.h), and orderly shutdown of every
 * connection. */
#include "iscsi.h"

#include <stdio.h>
#include <string.h>

#include "../../gateway/log.h"
#ifdef HAVE_ISER
extern const struct iscsi_transport iser_transport;   /* fabric/iser/iser_conn.c */
#endif

static TAILQ_HEAD(, iscsi_listener) listeners = TAILQ_HEAD_INITIALIZER(listeners);

/* The transports this build carries, by portal transport. */
static const struct iscsi_transport *const transports[] = {
	[PORTAL_TCP] = &iscsi_tcp_transport,
#ifdef HAVE_ISER
	[PORTAL_ISER] = &iser_transport,   /* fabric/iser/ (RFC 7145) */
#else
	[PORTAL_ISER] = NULL,              /* built without librdmacm/libibverbs */
#endif
	[PORTAL_FCOE] = NULL,              /* not iSCSI: fabric/fcoe/ opens these */
};

const struct iscsi_transport *iscsi_transport_get(enum portal_transport kind)
{
	return (unsigned)kind < ARRAY_SIZE(transports) ? transports[kind] : NULL;
}

static bool listener_is(const struct iscsi_listener *l, const struct portal *p)
{
	return p->port == l->port && !strcmp(p->addr, l->addr) &&
	       iscsi_transport_get(p->transport) == l->transport;
}

static int listen_on(struct event_loop *loop, const struct portal *p, char *err, size_t errlen)
{
	const struct iscsi_transport *t = iscsi_transport_get(p->transport);
	struct iscsi_listener *l;

	if (!t) {
		snprintf(err, errlen, "portal %s:%u: this sangwd has no %s transport", p->addr, p->port,
			 portal_transport_name(p->transport));
		return -1;
	}
	l = t->listen(loop, p->addr, p->port, err, errlen);
	if (!l)
		return -1;
	l->transport = t;
	str_copy(l->addr, p->addr, sizeof(l->addr));
	l->port = p->port;
	TAILQ_INSERT_TAIL(&listeners, l, link);
	return 0;
}

static void listener_close(struct event_loop *loop, struct iscsi_listener *l)
{
	TAILQ_REMOVE(&listeners, l, link);
	log_info("stopped listening on %s:%u", l->addr, l->port);
	l->transport->unlisten(loop, l);
}

int iscsi_portals_changed(struct gateway *gw, char *err, size_t errlen)
{
	struct iscsi_listener *l, *next;
	struct portal *p;

	/* Close listeners no longer configured, open new ones; existing
	 * connections are not touched. */
	for (l = TAILQ_FIRST(&listeners); l; l = next) {
		bool keep = false;
		next = TAILQ_NEXT(l, link);
		TAILQ_FOREACH(p, &gw->portals, link)
			if (listener_is(l, p))
				keep = true;
		if (!keep)
			listener_close(gw->loop, l);
	}
	TAILQ_FOREACH(p, &gw->portals, link) {
		bool have = false;
		if (p->transport == PORTAL_FCOE)
			continue;    /* fabric/fcoe/fcoe_port.c */
		TAILQ_FOREACH(l, &listeners, link)
			if (listener_is(l, p))
				have = true;
		if (!have && listen_on(gw->loop, p, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int iscsi_fabric_start(struct gateway *gw, char *err, size_t errlen)
{
	return iscsi_portals_changed(gw, err, errlen);
}

void iscsi_fabric_stop(struct gateway *gw)
{
	struct iscsi_listener *l;

	while ((l = TAILQ_FIRST(&listeners)))
		listener_close(gw->loop, l);
}

unsigned iscsi_connection_count(void)
{
	struct iscsi_conn *c;
	unsigned n = 0;

	TAILQ_FOREACH(c, &iscsi_conns, link)
		n++;
	return n;
}

void iscsi_thread_trim(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(transports); i++)
		if (transports[i])
			transports[i]->thread_trim();
	conn_pdu_cache_trim();
}

void iscsi_fabric_shutdown(struct gateway *gw, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	struct iscsi_conn *c;

	iscsi_fabric_stop(gw);
	/* RFC 7143 11.9.1: ask initiators to log out, let them finish. */
	TAILQ_FOREACH(c, &iscsi_conns, link)
		conn_send_async_logout(c);
	while (!TAILQ_EMPTY(&iscsi_conns) && now_ms() < deadline)
		event_loop_run_once(gw->loop, 50);
	while ((c = TAILQ_FIRST(&iscsi_conns)))
		conn_close(c, "gateway shutting down");
	/* Let aborted commands and frees finish. */
	for (int i = 0; i < 100; i++)
		event_loop_run_once(gw->loop, 10);
}

/* systemd's service notification protocol (sd_notify(3)) for
 * sangwd.service (Type=notify, WatchdogSec=): READY=1 once the portals
 * listen and the node serves (quorate and synchronised in a cluster),
 * STATUS= with the membership and configuration version, WATCHDOG=1 from
 * the main event loop, RELOADING=1 around a SIGHUP reload, STOPPING=1 at
 * shutdown. Built with libsystemd when configure finds it; without it
 * every call does nothing (and sangwd says so once when NOTIFY_SOCKET is
 * set). Outside systemd (no NOTIFY_SOCKET) nothing is sent either. */
#ifndef SANGW_SERVICE_NOTIFY_H
#define SANGW_SERVICE_NOTIFY_H

struct gateway;

/* After the portals, the management socket and the workers are up: start
 * watching for readiness (and the watchdog) on gw->loop. */
void service_notify_start(struct gateway *gw);
/* Around config_reload() on SIGHUP. */
void service_notify_reloading(void);
void service_notify_reloaded(void);
/* The event loop has stopped: STOPPING=1; the timer is released. */
void service_notify_stopping(void);

#endif

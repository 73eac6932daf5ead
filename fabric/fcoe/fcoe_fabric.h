/* The FCoE fabric as main() and the management API see it: one VN2VN
 * port per portal of transport "fcoe" (docs/fcoe.md). */
#ifndef SANGW_FCOE_FABRIC_H
#define SANGW_FCOE_FABRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gateway;

/* Open a port for every fcoe portal not open yet, close those no longer
 * configured. Returns 0 or -1 with err. */
int fcoe_portals_changed(struct gateway *gw, char *err, size_t errlen);
/* Log out of every remote port and close every port. */
void fcoe_fabric_shutdown(struct gateway *gw);
/* Parse "IFNAME[,wwpn=0x...][,wwnn=0x...][,target=IQN]" (the
 * --listen-fcoe argument) into its parts; 0 when wwpn/wwnn are not
 * given (derived from the interface MAC). Returns 0 or -1 with err. */
int fcoe_parse_listen(const char *text, char *ifname, size_t ifname_len, uint64_t *wwpn,
		      uint64_t *wwnn, char *err, size_t errlen);
/* The number of open FCoE ports (tests, status). */
unsigned fcoe_port_count(void);

#endif

/* A gateway without a network for unit tests of the SCSI core: one event
 * loop, the single-node cluster service, one target, LUs from spec strings,
 * I_T nexuses driven by a fake fabric that records what the core answers. */
#ifndef SANGW_TEST_CORE_HARNESS_H
#define SANGW_TEST_CORE_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "../../gateway/model.h"
#include "../../gateway/scsi/scsi.h"

struct harness {
	struct gateway gw;
	struct target *target;
	char dir[256];          /* temp folder for file LUs and state */
};

struct harness_result {
	uint8_t status;
	uint8_t sense_key;
	uint16_t asc_ascq;
	uint8_t sense[SCSI_SENSE_MAX];
	unsigned sense_len;
	uint8_t *data;           /* Data-In (malloc'd, free with harness_result_free) */
	uint32_t data_len;
	uint32_t transfer_len;
	bool aborted;
};

void harness_init(struct harness *h);
void harness_fini(struct harness *h);
/* Add an LU from a --lun style spec; "file:" paths are relative to h->dir. */
struct lu *harness_add_lu(struct harness *h, uint64_t lun, const char *spec);
/* A new registered I_T nexus for initiator name (isid distinguishes ports). */
struct it_nexus *harness_nexus(struct harness *h, const char *initiator, uint8_t isid);
void harness_nexus_free(struct harness *h, struct it_nexus *nx);
/* Run one command to completion. edtl defaults to out_len (Data-Out) or
 * 65536 (Data-In) when 0. Returns the status. */
uint8_t harness_run(struct harness *h, struct it_nexus *nx, uint64_t lun, const uint8_t *cdb,
		    unsigned cdb_len, enum scsi_data_dir dir, const void *data_out,
		    uint32_t out_len, uint32_t edtl, struct harness_result *res);
void harness_result_free(struct harness_result *res);
/* Run the loop until nothing is pending. */
void harness_drain(struct harness *h);

#endif

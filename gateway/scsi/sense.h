/* Sense data (SPC-4 4.5): fixed format (response code 0x70) or descriptor
 * format (0x72) as the LU's control mode page D_SENSE bit selects. Additional
 * sense codes are written as one 16-bit ASC<<8|ASCQ value. */
#ifndef SANGW_SENSE_H
#define SANGW_SENSE_H

#include <stdbool.h>
#include <stdint.h>

#include "scsi.h"

/* SPC-4 Annex D, the codes sangw uses */
#define ASC_NO_ADDITIONAL_SENSE                 0x0000
#define ASC_LU_NOT_READY_CAUSE_NOT_REPORTABLE   0x0400
#define ASC_LU_NOT_READY_BECOMING_READY         0x0401
#define ASC_LU_NOT_READY_INIT_REQUIRED          0x0402
#define ASC_LU_NOT_READY_MANUAL_INTERVENTION    0x0403
#define ASC_LU_NOT_READY_FORMAT_IN_PROGRESS     0x0404
#define ASC_LU_NOT_READY_SANITIZE_IN_PROGRESS   0x041b
#define ASC_LU_NOT_ACCESSIBLE_TRANSITIONING     0x040a
#define ASC_LU_NOT_READY_OFFLINE                0x0412
#define ASC_LU_NOT_ACCESSIBLE_STANDBY           0x040b
#define ASC_LU_NOT_ACCESSIBLE_UNAVAILABLE       0x040c
#define ASC_LU_COMMUNICATION_FAILURE            0x0800
#define ASC_LU_COMMUNICATION_TIMEOUT            0x0801
#define ASC_WRITE_ERROR                         0x0c00
#define ASC_UNRECOVERED_READ_ERROR              0x1100
#define ASC_MISCOMPARE_DURING_VERIFY            0x1d00
#define ASC_PARAMETER_LIST_LENGTH_ERROR         0x1a00
#define ASC_INVALID_OPCODE                      0x2000
#define ASC_LBA_OUT_OF_RANGE                    0x2100
#define ASC_INVALID_FIELD_IN_CDB                0x2400
#define ASC_LU_NOT_SUPPORTED                    0x2500
#define ASC_INVALID_FIELD_IN_PARAMETER_LIST     0x2600
#define ASC_PARAMETER_NOT_SUPPORTED             0x2601
#define ASC_PARAMETER_VALUE_INVALID             0x2602
#define ASC_INVALID_RELEASE_OF_PR               0x2604
#define ASC_TOO_MANY_SEGMENT_DESCRIPTORS        0x2608
#define ASC_UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE 0x2609
#define ASC_UNSUPPORTED_TARGET_DESCRIPTOR_TYPE  0x2607
#define ASC_TOO_MANY_TARGET_DESCRIPTORS         0x2606
#define ASC_WRITE_PROTECTED                     0x2700
#define ASC_HARDWARE_WRITE_PROTECTED            0x2701
#define ASC_SOFTWARE_WRITE_PROTECTED            0x2702
#define ASC_SPACE_ALLOCATION_FAILED_WRITE_PROTECT 0x2707
#define ASC_POWER_ON_RESET                      0x2900
#define ASC_POWER_ON_OCCURRED                   0x2901
#define ASC_SCSI_BUS_RESET_OCCURRED             0x2902
#define ASC_BUS_DEVICE_RESET_FUNCTION_OCCURRED  0x2903
#define ASC_I_T_NEXUS_LOSS_OCCURRED             0x2907
#define ASC_PARAMETERS_CHANGED                  0x2a00
#define ASC_MODE_PARAMETERS_CHANGED             0x2a01
#define ASC_RESERVATIONS_PREEMPTED              0x2a03
#define ASC_RESERVATIONS_RELEASED               0x2a04
#define ASC_REGISTRATIONS_PREEMPTED             0x2a05
#define ASC_ASYMMETRIC_ACCESS_STATE_CHANGED     0x2a06
#define ASC_CAPACITY_DATA_HAS_CHANGED           0x2a09
#define ASC_COMMANDS_CLEARED_BY_ANOTHER_INITIATOR 0x2f00
#define ASC_COMMANDS_CLEARED_BY_DEVICE_SERVER   0x2f02
#define ASC_SAVING_PARAMETERS_NOT_SUPPORTED     0x3900
#define ASC_MEDIUM_NOT_PRESENT                  0x3a00
#define ASC_MEDIUM_REMOVAL_PREVENTED            0x5302
#define ASC_INQUIRY_DATA_HAS_CHANGED            0x3f03
#define ASC_REPORTED_LUNS_DATA_HAS_CHANGED      0x3f0e
#define ASC_INTERNAL_TARGET_FAILURE             0x4400
#define ASC_INITIATOR_DETECTED_ERROR            0x4800
#define ASC_INVALID_MESSAGE_ERROR               0x4900
#define ASC_COMMAND_PHASE_ERROR                 0x4a00
#define ASC_DATA_PHASE_ERROR                    0x4b00
#define ASC_OVERLAPPED_COMMANDS_ATTEMPTED       0x4e00
#define ASC_INSUFFICIENT_REGISTRATION_RESOURCES 0x5504
#define ASC_MISCOMPARE_DURING_VERIFY_OPERATION  0x1d00
#define ASC_SANITIZE_COMMAND_FAILED             0x3103

/* Build sense data into buf (at least 18 bytes for fixed, 32 for
 * descriptor); returns its length. info_valid adds the INFORMATION field
 * (SPC-4 4.5.2.2 / 4.5.3: VALID bit in fixed, information descriptor in
 * descriptor format). */
unsigned sense_build(uint8_t *buf, bool descriptor, uint8_t key, uint16_t asc_ascq,
		     bool info_valid, uint64_t information);

/* Sense-key specific field pointer (SPC-4 4.5.2.4.2): which byte (and bit)
 * of the CDB or parameter list is wrong. */
struct sense_field_ptr {
	bool valid;
	bool in_cdb;         /* C/D bit */
	bool bit_valid;      /* BPV */
	uint8_t bit;
	uint16_t byte;
};

unsigned sense_build_full(uint8_t *buf, bool descriptor, uint8_t key, uint16_t asc_ascq,
			  bool info_valid, uint64_t information,
			  const struct sense_field_ptr *field);

/* Complete cmd with CHECK CONDITION and this sense, in the LU's format. */
void scsi_check_condition(struct scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq);
void scsi_check_condition_info(struct scsi_cmd *cmd, uint8_t key, uint16_t asc_ascq,
			       uint64_t information);
/* ILLEGAL REQUEST / INVALID FIELD IN CDB pointing at byte (and bit, or -1). */
void scsi_invalid_cdb_field(struct scsi_cmd *cmd, uint16_t byte, int bit);
/* ILLEGAL REQUEST / INVALID FIELD IN PARAMETER LIST pointing at byte. */
void scsi_invalid_param_field(struct scsi_cmd *cmd, uint16_t byte, int bit);

/* Decode sense (either format) for logs and tests; false if not sense data. */
bool sense_decode(const uint8_t *buf, unsigned len, uint8_t *key, uint16_t *asc_ascq);
/* The sense key and code for a backstore error (-errno of a bs_io) that an
 * initiator can act on: retry, try another path, or stop (docs/rbd.md). */
void sense_for_backstore_error(int result, bool reading, uint8_t *key, uint16_t *asc_ascq);

#endif

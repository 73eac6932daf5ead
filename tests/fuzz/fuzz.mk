# The libFuzzer targets (GNU make, called from Makefile.am's fuzz-* targets
# in a build directory: `make fuzz` or `make fuzz-NAME`). Everything is
# compiled with clang for libFuzzer's coverage and ASan/UBSan; the gcc
# objects of the normal build cannot be linked with libFuzzer's runtime.
# The gateway's sources are compiled once into tests/fuzz/obj/ (without
# the rbd and corosync parts: a single-node gateway) and shared by every
# target that needs them.
#
#   make -f SRC/tests/fuzz/fuzz.mk srcdir=SRC QB_CFLAGS=.. QB_LIBS=.. ... TARGET
srcdir ?= .
CLANG ?= clang
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OPT ?= -O1
FUZZ_CFLAGS = -std=gnu11 -g $(FUZZ_OPT) -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
	-fno-omit-frame-pointer $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	$(QB_CFLAGS) $(JSONC_CFLAGS) -I$(srcdir)
FUZZ_LDFLAGS = $(FUZZ_SAN) -fsanitize=fuzzer
FUZZ_LIBS = $(QB_LIBS) $(JSONC_LIBS) $(AIO_LIBS) $(NETTLE_LIBS) -lpthread

OBJ = tests/fuzz/obj

# The iSCSI layer a login needs (fuzz_login links only these).
LOGIN_SRC = fabric/iscsi/pdu.c fabric/iscsi/login.c fabric/iscsi/params.c \
	fabric/iscsi/text_keys.c fabric/iscsi/chap.c fabric/iscsi/login_backoff.c \
	fabric/iscsi/crc32c.c gateway/util.c gateway/log.c

# The single-node gateway: SCSI core, model, configuration, management
# API, shared state, local backstores and the whole iSCSI fabric.
GATEWAY_SRC = $(sort $(LOGIN_SRC) \
	gateway/buffer_pool.c gateway/event_loop.c gateway/workers.c gateway/model.c \
	gateway/scsi/sense.c gateway/scsi/cdb.c gateway/scsi/scsi_dispatch.c \
	gateway/scsi/task_set.c gateway/scsi/tmf.c gateway/scsi/ua.c gateway/scsi/spc.c \
	gateway/scsi/sbc.c gateway/scsi/pr.c gateway/shared_state.c gateway/fencing.c \
	gateway/node_role.c gateway/state_snapshot.c gateway/state_store.c gateway/config.c \
	gateway/config_json.c gateway/config_validate.c gateway/config_params.c \
	gateway/config_parse.c gateway/config_edit.c gateway/config_diff.c \
	gateway/config_apply.c gateway/config_dump.c gateway/config_requests.c \
	gateway/config_export.c gateway/mgmt.c gateway/cluster_status.c \
	gateway/backstore/backstore.c gateway/backstore/backstore_file.c \
	gateway/backstore/backstore_null.c gateway/scsi/xcopy.c gateway/scsi/sanitize.c \
	gateway/scsi/scsi_lu.c gateway/scsi/alua.c gateway/scsi/target_ports.c gateway/scsi/cluster_range_lock.c \
	cluster/cluster.c cluster/cluster_single.c gateway/metrics.c gateway/metrics_text.c \
	fabric/iscsi/transport_tcp.c fabric/iscsi/portal.c fabric/iscsi/conn.c \
	fabric/iscsi/session.c fabric/iscsi/scsi_task.c fabric/iscsi/discovery.c \
	tests/fuzz/fuzz_gateway.c)

obj = $(patsubst %.c,$(OBJ)/%.o,$(1))

TARGETS = login session cdb mgmt config state fcoe iser

# The FCoE/FIP codecs (fuzz_fcoe links only these).
FCOE_SRC = fabric/fcoe/fcoe_frame.c fabric/fcoe/fip.c gateway/util.c

# The iSER wire formats and receive decoding (fuzz_iser links only these:
# no verbs, built whether or not this machine has librdmacm).
ISER_SRC = fabric/iser/iser_proto.c gateway/util.c

all: $(addprefix tests/fuzz/fuzz_,$(TARGETS))

tests/fuzz/fuzz_login: $(call obj,tests/fuzz/fuzz_login.c $(LOGIN_SRC))
	$(CLANG) $(FUZZ_LDFLAGS) -o $@ $^ $(FUZZ_LIBS)

tests/fuzz/fuzz_fcoe: $(call obj,tests/fuzz/fuzz_fcoe.c $(FCOE_SRC))
	$(CLANG) $(FUZZ_LDFLAGS) -o $@ $^ $(FUZZ_LIBS)

tests/fuzz/fuzz_iser: $(call obj,tests/fuzz/fuzz_iser.c $(ISER_SRC))
	$(CLANG) $(FUZZ_LDFLAGS) -o $@ $^ $(FUZZ_LIBS)

tests/fuzz/fuzz_%: $(OBJ)/tests/fuzz/fuzz_%.o $(call obj,$(GATEWAY_SRC))
	$(CLANG) $(FUZZ_LDFLAGS) -o $@ $^ $(FUZZ_LIBS)

$(OBJ)/%.o: $(srcdir)/%.c
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

.PHONY: all
.SECONDARY:

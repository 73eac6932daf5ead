/* The gateway the libFuzzer targets run against: single-node cluster
 * service, no workers, no sockets, one demo-mode target with null LUs.
 * Each input gets a fresh one (fuzz_gw_start .. fuzz_gw_stop), so an input
 * behaves the same whatever ran before it: a crash reproduces from the
 * one input that libFuzzer saved. */
#ifndef SANGW_FUZZ_GATEWAY_H
#define SANGW_FUZZ_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../gateway/model.h"

#define FUZZ_TARGET_IQN "iqn.2026-11.org.sangw:fuzz"

/* The one harness of a fuzz process (a named singleton per target). */
struct fuzz_gw {
	struct gateway gw;
	struct event_loop *loop;  /* the process's one loop; gw.loop */
	struct target *target;
	char dir[64];            /* state dir (see fuzz_gw_get) */
	bool started;
	bool verbose;            /* SANGW_FUZZ_LOG: the targets trace what they do */
	/* Set by a target that opens no socket (null backstores complete
	 * through deferred calls): no fd of the loop can be ready, so the
	 * loop runs without polling (event_loop_run_ready). */
	bool no_fds;
	/* SANGW_FUZZ_CAPTURE (fuzz_gateway.c) */
	const char *capture_dir;
	uint8_t *capture_ops;
	size_t capture_len;
	unsigned capture_seq;
};

/* The singleton: created on first use with the logger silenced (unless
 * SANGW_FUZZ_LOG is set: debug to stderr, to reproduce one input) and a
 * temp folder for the gateway's state (removed at exit). */
struct fuzz_gw *fuzz_gw_get(void);
/* A fresh gateway: target FUZZ_TARGET_IQN in demo mode with n_lus null
 * LUs of 1 MiB (a SANITIZE overwrites one in one paced chunk): LUN 0
 * thin with 512-byte blocks, LUN 1 thick and removable with 4096-byte
 * blocks, and so on; no target when n_lus < 0. */
void fuzz_gw_start(struct fuzz_gw *g, int n_lus);
/* Let every pending operation and deferred call run. */
void fuzz_gw_drain(struct fuzz_gw *g);
/* One iteration of the loop without waiting (see no_fds). */
void fuzz_gw_poll(struct fuzz_gw *g);
/* Tear the gateway down and empty the folder; aborts when a timer is
 * still armed then (it would run in the next input). */
void fuzz_gw_stop(struct fuzz_gw *g);
/* Inputs that could reach the file system or fill the disk (a file
 * backstore, '/' or a \u escape that may hide either): the JSON targets
 * skip them. */
bool fuzz_input_unsafe(const uint8_t *data, size_t size);

#endif

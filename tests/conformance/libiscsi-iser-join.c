/* LD_PRELOAD workaround for a use-after-free in libiscsi 1.19's iSER
 * transport (Debian 12), so that its conformance suite can run over
 * iser:// (tests/cluster/iser-conformance.sh, docs/iser.md "libiscsi over
 * iser://").
 *
 * libiscsi 1.19 handles RDMA-CM events on a thread per context (cm_thread
 * in lib/iser.c, blocked in rdma_get_cm_event() on the context's event
 * channel). iscsi_destroy_context() frees the context without stopping
 * that thread when the connection is already down (after a logout), and
 * only pthread_cancel()s it, never joining, otherwise. The DISCONNECTED
 * event that follows every logout is then handled by a thread whose
 * context is gone: it writes conn_state and sem_post()s into freed memory,
 * often into the next context allocated at the same address, whose
 * connect then fails at once ("Conn disconnected event"), or the heap is
 * corrupted. libiscsi 1.20 joins the thread (upstream e114be4, 46e978c,
 * 2212021).
 *
 * What the shim does, with only libiscsi's calls into other libraries:
 * - rdma_create_id(channel, ..., context): remember channel -> context
 *   (libiscsi passes its iscsi context).
 * - rdma_get_cm_event(channel) on a CM thread: remember thread ->
 *   channel; the thread may be cancelled only while it waits for an event
 *   (in our poll()), never while it holds one, so an event is always
 *   acknowledged (rdma_destroy_id() waits for that) and the handler never
 *   stops half-way.
 * - iscsi_destroy_context(context): cancel and join the context's CM
 *   thread first, then let libiscsi free it.
 * - pthread_cancel() of a thread this shim already joined does nothing
 *   (libiscsi's own cancel in its disconnect path); another cancel from
 *   libiscsi of a CM thread is followed by a join.
 * - iscsi_create_context(): the new context proposes ImmediateData=No.
 *   libiscsi 1.19 over iSER puts the immediate data's length in the SCSI
 *   Command's DataSegmentLength but sends the data only through the
 *   RDMA READ buffer, not in the message (lib/iscsi-command.c sets the
 *   length, lib/iser.c sends the header alone), which a target must
 *   refuse (RFC 7145 7.3.4: immediate data travels in the Send Control
 *   message); with ImmediateData=No all write data is read by RDMA READ,
 *   as libiscsi intends.
 * - iscsi_service(context, 0): libiscsi's synchronous calls poll() the
 *   completion channel for 1 s and then call iscsi_service() with no
 *   events, which 1.19's iSER driver answers with an error ("revents is
 *   not POLLIN"): any command or login that takes over a second fails.
 *   Here "no events" is nothing to do, as over TCP. 1.19's iSER driver
 *   never scans for timed-out tasks (the TCP driver does), so a command
 *   that gets no completion at all would wait for ever: after
 *   IDLE_LIMIT_S idle seconds in a row the call fails, as a libiscsi
 *   timeout would.
 * - malloc() called from libiscsi returns zeroed memory: 1.19 allocates
 *   its struct iser_conn with malloc and never initialises the head of
 *   its tx_desc list, so a context whose memory was used before walks a
 *   garbage list when its connection is established (SIGSEGV in the CM
 *   thread). Only small blocks: the 256 KiB send buffers (256 per
 *   connection) need no zeroing, and zeroing them cost a second per login
 *   under TCG.
 * - iscsi_destroy_context() of a context still connected: libiscsi 1.19
 *   disconnects only when iscsi->fd != -1 (lib/init.c), and its iSER
 *   driver never sets fd, so the RDMA connection stayed up (the target
 *   kept the I_T nexus: PreventAllow.ITNexusLoss) and its 256 registered
 *   send buffers leaked (64 MiB a connection: the guest's OOM killer).
 *   The shim calls iscsi_disconnect() first when the context's RDMA-CM id
 *   still exists.
 * - Commands 1.19's iSER driver would refuse only after taking a CmdSN
 *   (a read with expected transfer length 0: "Read command with no
 *   expected transfer length"; a write with expected transfer length 0,
 *   which has no data iovector: "Can't find iovector data for DATA-OUT
 *   (RDMA)"; more than 256 KiB: "Libiscsi-iSER supports
 *   messages smaller than 512k") are refused before: otherwise the CmdSN
 *   is never sent, the target rightly holds every later command for the
 *   missing one (RFC 7143 3.2.2.1) and the session hangs.
 * - A read's datain.size is its expected transfer length less the
 *   residual the target reported (1.19 over iSER gives the expected
 *   transfer length, whatever the target wrote).
 * - Task management requests fail at once: 1.19's iSER driver sends them
 *   down its SCSI command path, which reads the NULL task's expected
 *   transfer length (SIGSEGV at libiscsi.so.7+0x206b3).
 *
 * Built without sanitizers (it is loaded into Debian's iscsi-test-cu).
 * LIBISCSI_ISER_JOIN_BACKTRACE=1 prints a backtrace on SIGSEGV/SIGABRT
 * (the guest image has no debugger). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <execinfo.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <rdma/rdma_cma.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define MAX_CHANNELS 256

/* One RDMA-CM event channel of a libiscsi context, and its CM thread. */
struct channel_entry {
	struct rdma_event_channel *channel;
	void *context;           /* libiscsi's struct iscsi_context */
	struct rdma_cm_id *id;   /* until rdma_destroy_id() */
	pthread_t thread;
	bool has_thread;
	bool joined;             /* stopped by us: later cancels are no-ops */
};

static struct channel_entry channels[MAX_CHANNELS];
static pthread_mutex_t channels_lock = PTHREAD_MUTEX_INITIALIZER;

#define IDLE_LIMIT_S 60

/* Consecutive idle services, per context (libiscsi is single-threaded
 * per context; a few contexts at once). */
static struct { struct iscsi_context *iscsi; unsigned idle; } idle_count[16];

static unsigned *idle_of(struct iscsi_context *iscsi)
{
	int free_slot = -1;

	for (int i = 0; i < 16; i++) {
		if (idle_count[i].iscsi == iscsi)
			return &idle_count[i].idle;
		if (!idle_count[i].iscsi && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		free_slot = 0;
	idle_count[free_slot].iscsi = iscsi;
	idle_count[free_slot].idle = 0;
	return &idle_count[free_slot].idle;
}

static void *next_symbol(const char *name);

int iscsi_service(struct iscsi_context *iscsi, int revents)
{
	static int (*real)(struct iscsi_context *, int);
	unsigned *idle;

	if (!real)
		real = next_symbol("iscsi_service");
	idle = idle_of(iscsi);
	if (revents != 0) {
		*idle = 0;
		return real(iscsi, revents);
	}
	if (++*idle < IDLE_LIMIT_S)
		return 0;
	*idle = 0;
	fprintf(stderr, "libiscsi-iser-join: no completion for %d s: failing the call\n", IDLE_LIMIT_S);
	return -1;
}


static void *next_symbol(const char *name)
{
	void *sym = dlsym(RTLD_NEXT, name);

	if (!sym) {
		fprintf(stderr, "libiscsi-iser-join: no %s: %s\n", name, dlerror());
		abort();
	}
	return sym;
}

/* Under channels_lock: the entry of a channel, or a free one. */
static struct channel_entry *entry_of(struct rdma_event_channel *channel, bool create)
{
	struct channel_entry *free_entry = NULL;

	for (int i = 0; i < MAX_CHANNELS; i++) {
		if (channels[i].channel == channel)
			return &channels[i];
		if (!channels[i].channel && !free_entry)
			free_entry = &channels[i];
	}
	if (!create || !free_entry)
		return NULL;
	memset(free_entry, 0, sizeof(*free_entry));
	free_entry->channel = channel;
	return free_entry;
}

int rdma_create_id(struct rdma_event_channel *channel, struct rdma_cm_id **id,
		   void *context, enum rdma_port_space ps)
{
	static int (*real)(struct rdma_event_channel *, struct rdma_cm_id **, void *,
			   enum rdma_port_space);
	struct channel_entry *e;
	int ret;

	if (!real)
		real = next_symbol("rdma_create_id");
	ret = real(channel, id, context, ps);
	if (channel) {
		pthread_mutex_lock(&channels_lock);
		e = entry_of(channel, true);
		if (e) {
			e->context = context;
			e->id = ret == 0 ? *id : NULL;
		}
		pthread_mutex_unlock(&channels_lock);
	}
	return ret;
}

int rdma_destroy_id(struct rdma_cm_id *id)
{
	static int (*real)(struct rdma_cm_id *);

	if (!real)
		real = next_symbol("rdma_destroy_id");
	pthread_mutex_lock(&channels_lock);
	for (int i = 0; i < MAX_CHANNELS; i++)
		if (channels[i].channel && channels[i].id == id)
			channels[i].id = NULL;
	pthread_mutex_unlock(&channels_lock);
	return real(id);
}

/* libiscsi 1.19's iSER send buffer (DATA_BUFFER_SIZE, include/iser-private.h). */
#define ISER_DATA_BUFFER 0x40000

/* A command's own callback and data, around which the shim's runs. */
struct command_wrap {
	struct scsi_task *task;
	iscsi_command_cb cb;
	void *private_data;
};

/* 1.19's iSER driver gives a read's datain.size as its expected transfer
 * length (it copies the whole registered buffer; there are no Data-In
 * PDUs to count): with an underflow the target wrote expected transfer
 * length - residual bytes (RFC 7143 11.4.5.2), which is what libiscsi
 * reports over TCP. */
static void command_done(struct iscsi_context *iscsi, int status, void *command_data,
			 void *private_data)
{
	struct command_wrap *w = private_data;
	struct scsi_task *task = w->task;
	iscsi_command_cb cb = w->cb;
	void *cb_data = w->private_data;

	free(w);
	if (command_data == task && task->xfer_dir == SCSI_XFER_READ &&
	    task->residual_status == SCSI_RESIDUAL_UNDERFLOW &&
	    task->residual <= (size_t)task->expxferlen &&
	    task->datain.size == task->expxferlen)
		task->datain.size = task->expxferlen - (int)task->residual;
	cb(iscsi, status, command_data, cb_data);
}

int iscsi_scsi_command_async(struct iscsi_context *iscsi, int lun, struct scsi_task *task,
			     iscsi_command_cb cb, struct iscsi_data *data, void *private_data)
{
	static int (*real)(struct iscsi_context *, int, struct scsi_task *, iscsi_command_cb,
			   struct iscsi_data *, void *);
	struct command_wrap *w;
	int ret;

	if (!real)
		real = next_symbol("iscsi_scsi_command_async");
	if (task->expxferlen > ISER_DATA_BUFFER ||
	    ((task->xfer_dir == SCSI_XFER_READ || task->xfer_dir == SCSI_XFER_WRITE) &&
	     task->expxferlen == 0)) {
		/* (iscsi_set_error is not exported: the reason goes to stderr) */
		(void)iscsi;
		fprintf(stderr, "libiscsi-iser-join: refused: libiscsi 1.19's iSER driver cannot send "
			"a command with expected transfer length %d\n", task->expxferlen);
		return -1;
	}
	w = malloc(sizeof(*w));
	if (!w || !cb)
		goto plain;
	*w = (struct command_wrap){ .task = task, .cb = cb, .private_data = private_data };
	ret = real(iscsi, lun, task, command_done, data, w);
	if (ret != 0)
		free(w);
	return ret;
plain:
	free(w);
	return real(iscsi, lun, task, cb, data, private_data);
}

int iscsi_task_mgmt_async(struct iscsi_context *iscsi, int lun, enum iscsi_task_mgmt_funcs function,
			  uint32_t ritt, uint32_t rcmdsn, iscsi_command_cb cb, void *private_data)
{
	(void)lun;
	(void)ritt;
	(void)rcmdsn;
	(void)cb;
	(void)private_data;
	(void)iscsi;
	fprintf(stderr, "libiscsi-iser-join: refused: libiscsi 1.19's iSER driver cannot send "
		"task management function %d\n", (int)function);
	return -1;
}

int rdma_get_cm_event(struct rdma_event_channel *channel, struct rdma_cm_event **event)
{
	static int (*real)(struct rdma_event_channel *, struct rdma_cm_event **);
	struct channel_entry *e;
	struct pollfd pfd = { .fd = channel->fd, .events = POLLIN };
	int old, rc;

	if (!real)
		real = next_symbol("rdma_get_cm_event");
	pthread_mutex_lock(&channels_lock);
	e = entry_of(channel, false);
	if (e && !e->has_thread) {
		e->thread = pthread_self();
		e->has_thread = true;
	}
	pthread_mutex_unlock(&channels_lock);

	/* The only place the thread may be cancelled: no event in hand. */
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	do
		rc = poll(&pfd, 1, -1);
	while (rc < 0 && errno == EINTR);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	/* Cancellation stays off until this thread asks for its next event,
	 * so the handler runs to its end and acknowledges the event. */
	return real(channel, event);
}

static int (*real_pthread_cancel)(pthread_t);

/* Cancel and join a CM thread. Called without channels_lock: the thread
 * takes it on its way to the poll() where the cancel acts. */
static void stop_thread(pthread_t thread)
{
	int err;

	real_pthread_cancel(thread);
	err = pthread_join(thread, NULL);
	if (err)
		fprintf(stderr, "libiscsi-iser-join: pthread_join: %s\n", strerror(err));
}

/* Under channels_lock: claim the entry's thread for stopping (once). */
static bool claim_thread(struct channel_entry *e, pthread_t *thread)
{
	if (!e->has_thread || e->joined || pthread_equal(e->thread, pthread_self()))
		return false;
	e->joined = true;
	*thread = e->thread;
	return true;
}

int pthread_cancel(pthread_t thread)
{
	pthread_t cm_thread;
	bool ours = false, stop = false;

	if (!real_pthread_cancel)
		real_pthread_cancel = next_symbol("pthread_cancel");
	pthread_mutex_lock(&channels_lock);
	for (int i = 0; i < MAX_CHANNELS && !ours; i++) {
		struct channel_entry *e = &channels[i];

		if (e->channel && e->has_thread && pthread_equal(e->thread, thread)) {
			ours = true;
			stop = claim_thread(e, &cm_thread);
		}
	}
	pthread_mutex_unlock(&channels_lock);
	if (!ours)
		return real_pthread_cancel(thread);
	/* libiscsi's cancel of a CM thread: join it too; a thread already
	 * joined is not touched again. */
	if (stop)
		stop_thread(cm_thread);
	return 0;
}

int iscsi_destroy_context(struct iscsi_context *iscsi)
{
	static int (*real)(struct iscsi_context *);
	pthread_t threads[MAX_CHANNELS];
	int n = 0, ret;
	bool connected = false;

	if (!real)
		real = next_symbol("iscsi_destroy_context");
	if (!real_pthread_cancel)
		real_pthread_cancel = next_symbol("pthread_cancel");
	/* Still has its RDMA-CM id: the connection (or what is left of it
	 * after the target closed it) is torn down and its buffers freed by
	 * the driver's disconnect, which 1.19 skips (see the top). */
	pthread_mutex_lock(&channels_lock);
	for (int i = 0; i < MAX_CHANNELS; i++)
		if (channels[i].channel && channels[i].context == iscsi && channels[i].id)
			connected = true;
	pthread_mutex_unlock(&channels_lock);
	if (connected)
		iscsi_disconnect(iscsi);
	pthread_mutex_lock(&channels_lock);
	for (int i = 0; i < MAX_CHANNELS; i++)
		if (channels[i].channel && channels[i].context == iscsi &&
		    claim_thread(&channels[i], &threads[n]))
			n++;
	pthread_mutex_unlock(&channels_lock);
	for (int i = 0; i < n; i++)
		stop_thread(threads[i]);
	ret = real(iscsi);
	for (int i = 0; i < 16; i++)
		if (idle_count[i].iscsi == iscsi)
			idle_count[i].iscsi = NULL;
	/* The context is gone: forget its channels (libiscsi 1.19 never
	 * destroys them; a new one may come back at the same address). */
	pthread_mutex_lock(&channels_lock);
	for (int i = 0; i < MAX_CHANNELS; i++)
		if (channels[i].channel && channels[i].context == iscsi)
			memset(&channels[i], 0, sizeof(channels[i]));
	pthread_mutex_unlock(&channels_lock);
	return ret;
}

struct iscsi_context *iscsi_create_context(const char *initiator_name)
{
	static struct iscsi_context *(*real)(const char *);
	struct iscsi_context *iscsi;

	if (!real)
		real = next_symbol("iscsi_create_context");
	iscsi = real(initiator_name);
	if (iscsi)
		iscsi_set_immediate_data(iscsi, ISCSI_IMMEDIATE_DATA_NO);
	return iscsi;
}

/* libiscsi's code, found once at start (it is a dependency of the
 * program, so it is loaded before this constructor runs). */
static uintptr_t libiscsi_text_start, libiscsi_text_end;

static int find_libiscsi(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	if (!info->dlpi_name || !strstr(info->dlpi_name, "libiscsi.so"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			libiscsi_text_start = info->dlpi_addr + ph->p_vaddr;
			libiscsi_text_end = libiscsi_text_start + ph->p_memsz;
		}
	}
	return 1;
}

extern void *__libc_malloc(size_t size);

/* struct iser_conn and the other structures, not the data buffers. */
#define SMALL_BLOCK 65536

void *malloc(size_t size)
{
	void *p = __libc_malloc(size);
	uintptr_t caller = (uintptr_t)__builtin_return_address(0);

	if (p && size <= SMALL_BLOCK && caller >= libiscsi_text_start && caller < libiscsi_text_end)
		memset(p, 0, size);
	return p;
}

static void print_backtrace(int sig)
{
	void *frames[64];
	int n = backtrace(frames, 64);

	dprintf(2, "libiscsi-iser-join: signal %d, backtrace:\n", sig);
	backtrace_symbols_fd(frames, n, 2);
	signal(sig, SIG_DFL);
	raise(sig);
}

__attribute__((constructor)) static void start(void)
{
	const char *on = getenv("LIBISCSI_ISER_JOIN_BACKTRACE");

	dl_iterate_phdr(find_libiscsi, NULL);

	if (on && *on == '1') {
		signal(SIGSEGV, print_backtrace);
		signal(SIGABRT, print_backtrace);
	}
}

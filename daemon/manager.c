/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include <vigil/plugin.h>

#include "bpf/events.h"
#include "bpf_loader.h"
#include "cgroup.h"
#include "control.h"
#include "event.h"
#include "log.h"
#include "manager.h"
#include "metrics.h"
#include "plugin_host.h"
#include "policy_engine.h"
#include "proc_cache.h"
#include "record.h"

/* Drain budget at shutdown: how long outputs get to deliver what is queued. */
#define STOP_TIMEOUT_USEC (5 * USEC_PER_SEC)
/* How fresh the metrics are: the snapshot the metrics server serves is taken this often. */
#define METRICS_INTERVAL_USEC (1 * USEC_PER_SEC)

/* Loss stages reported in vigil_loss records and STATUS=. */
enum loss_stage {
	LOSS_KERNEL,
	LOSS_DECODE,
	LOSS_QUEUE,
	LOSS_SPOOL,
	LOSS_OUTPUT,
	_LOSS_STAGE_MAX,
};

static const char *const loss_stage_name[_LOSS_STAGE_MAX] = {
	[LOSS_KERNEL] = "kernel", [LOSS_DECODE] = "decode", [LOSS_QUEUE] = "queue",
	[LOSS_SPOOL] = "spool",	  [LOSS_OUTPUT] = "output",
};

struct manager {
	struct vigil_config *cfg;
	/* From manager_options, owned by the caller for the life of the manager: reload needs them.
	 */
	const char *config_dir, *plugin_dir, *state_dir;
	sd_event *event;
	sd_event_source *ringbuf_source;
	sd_event_source *status_timer;
	sd_event_source *poll_timer;
	struct bpf_loader *bpf;
	struct cgroup_resolver *cgroups;
	struct proc_cache *procs;
	struct record_encoder *encoder;
	struct plugin_host *host;
	struct policy_engine *policies;
	struct policy_env policy_env;
	struct control *control;	/* vigilctl socket */
	struct metrics_server *metrics; /* NULL: MetricsListen= is off */
	sd_event_source *metrics_timer;
	uint64_t start_usec; /* CLOCK_REALTIME */
	uint64_t records_by_type[METRICS_RECORD_TYPES];

	int64_t boot_offset_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME */
	uint64_t seq;
	uint64_t events_in;   /* samples decoded */
	uint64_t records_out; /* records handed to the plugin host */
	uint64_t decode_errors;
	uint64_t encode_errors;	  /* no cache entry or record could be built (out of memory) */
	uint64_t enqueue_errors;  /* the plugin host refused a record (out of memory) */
	uint64_t duplicate_exits; /* second exit of one process (kernels without group_dead) */
	uint64_t policy_unknown;  /* policy events of a hook no longer known */
	uint64_t loss_reported[_LOSS_STAGE_MAX]; /* sum of counts reported in vigil_loss */
	uint64_t loss_seen[_LOSS_STAGE_MAX];	 /* kernel/decode totals already reported */
	uint64_t *queue_seen;			 /* per output: queue_dropped already reported */
	uint64_t *output_seen; /* per output: drops after the queue already reported */
	uint64_t *spool_seen;  /* per output: spool losses already reported */
	size_t n_queue_seen;
	uint64_t events_at_last_status;
	uint64_t last_status_usec;
	bool stopping;
	unsigned drain_left; /* samples this drain may still handle */
	bool drain_again;    /* the last drain ran out of budget: drain again at once */
};

/*
 * Samples handled per drain before the loop gets a turn (timers, signals, the watchdog): a
 * producer that keeps pace with us must not starve the event loop.
 */
#define DRAIN_BUDGET 4096

static uint64_t now_usec(clockid_t clock)
{
	struct timespec ts;

	(void)clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static uint64_t manager_wall_ns(struct manager *m, uint64_t boot_ns)
{
	return (uint64_t)((int64_t)boot_ns + m->boot_offset_ns);
}

static void manager_emit(struct manager *m, uint32_t type, const uint8_t *data, size_t size)
{
	int r;

	if (type < METRICS_RECORD_TYPES)
		m->records_by_type[type]++;
	r = plugin_host_enqueue(m->host, type, ++m->seq, data, size);
	if (r < 0) {
		m->enqueue_errors++;
		log_ratelimited(LOG_WARNING, "Failed to enqueue record: %s", strerror(-r));
	} else {
		m->records_out++;
		control_publish(m->control, type, m->seq, data, size);
	}
}

static void manager_handle_sample_one(struct manager *m, const void *data, size_t size);

static int manager_handle_sample(void *userdata, const void *data, size_t size)
{
	struct manager *m = userdata;

	manager_handle_sample_one(m, data, size);
	/* The sample is consumed either way; a negative return only ends this drain early. */
	if (m->drain_left > 0 && --m->drain_left == 0)
		return -EAGAIN;
	return 0;
}

static void manager_handle_sample_one(struct manager *m, const void *data, size_t size)
{
	struct event_decoded ev;
	const struct proc_entry *p;
	const uint8_t *rec;
	size_t rec_size;
	uint64_t wall;
	int r;

	r = event_decode(data, size, &ev);
	if (r < 0) {
		m->decode_errors++;
		log_ratelimited(LOG_WARNING, "Dropping malformed kernel event (%zu bytes): %s",
				size, strerror(-r));
		return;
	}
	m->events_in++;
	wall = manager_wall_ns(m, ev.hdr->ts_ns);

	switch (ev.type) {
	case VIGIL_EV_EXEC:
		p = proc_cache_on_exec(m->procs, &ev.exec);
		if (!p)
			break;
		r = record_encode_exec(m->encoder, wall, ev.hdr->pid, m->procs, p, &rec, &rec_size);
		if (r < 0)
			break;
		manager_emit(m, VIGIL_RECORD_PROCESS_EXEC, rec, rec_size);
		return;
	case VIGIL_EV_CLONE:
		p = proc_cache_on_clone(m->procs, ev.clone);
		if (!p)
			break;
		if (!m->cfg->clone_events)
			return;
		r = record_encode_clone(m->encoder, wall, ev.hdr->pid, m->procs, p, &rec,
					&rec_size);
		if (r < 0)
			break;
		manager_emit(m, VIGIL_RECORD_PROCESS_CLONE, rec, rec_size);
		return;
	case VIGIL_EV_EXIT:
		/*
		 * Before 6.16 sched_process_exit has no group_dead argument and the BPF program
		 * relies on signal->live, which concurrently exiting threads can all see at 0:
		 * report a process's exit once.
		 */
		p = proc_cache_lookup(m->procs, ev.hdr->tgid, ev.exit->start_boottime);
		if (p && p->exited) {
			m->duplicate_exits++;
			return;
		}
		p = proc_cache_on_exit(m->procs, ev.exit);
		if (!p)
			break;
		r = record_encode_exit(m->encoder, wall, ev.hdr->pid, m->procs, p,
				       ev.exit->exit_code, &rec, &rec_size);
		if (r < 0)
			break;
		manager_emit(m, VIGIL_RECORD_PROCESS_EXIT, rec, rec_size);
		return;
	case VIGIL_EV_POLICY: {
		const struct compiled_hook *h;
		const char *policy = NULL;

		h = policy_engine_hook(m->policies, ev.policy.ev->hook_id, &policy);
		if (!h) {
			m->policy_unknown++;
			log_ratelimited(LOG_WARNING,
					"Dropping an event of unknown policy hook %" PRIu32 ".",
					ev.policy.ev->hook_id);
			return;
		}
		p = proc_cache_lookup(m->procs, ev.hdr->tgid, ev.policy.ev->start_boottime);
		if (!p)
			p = proc_cache_scan_pid(m->procs, ev.hdr->tgid);
		if (!p)
			break;
		r = record_encode_policy(m->encoder, wall, ev.hdr->pid, m->procs, p, h, policy,
					 &ev.policy, &rec, &rec_size);
		if (r < 0)
			break;
		manager_emit(m,
			     h->kind == POLICY_HOOK_TRACEPOINT ? VIGIL_RECORD_PROCESS_TRACEPOINT
							       : VIGIL_RECORD_PROCESS_KPROBE,
			     rec, rec_size);
		return;
	}
	default:
		return;
	}

	m->encode_errors++;
	log_ratelimited(LOG_WARNING, "Failed to build a record for a kernel event of type %u.",
			ev.type);
	return;
}

/* Drain the ring buffer; outputs are woken once for the whole burst. */
static void manager_drain(struct manager *m)
{
	int r;

	m->drain_left = m->stopping ? 0 : DRAIN_BUDGET;
	plugin_host_hold_wakeups(m->host);
	r = bpf_loader_consume(m->bpf);
	plugin_host_release_wakeups(m->host);
	m->drain_again = r == -EAGAIN;
	if (m->drain_again) {
		/* Budget used up: come back right after the loop has run its other sources. */
		if (m->poll_timer)
			(void)sd_event_source_set_time(m->poll_timer, 0);
		return;
	}
	if (r < 0)
		log_ratelimited(LOG_WARNING, "Failed to consume the BPF ring buffer: %s",
				strerror(-r));
}

static int on_ringbuf(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	manager_drain(userdata);
	return 0;
}

/* The kernel wakes us only past a backlog (cfg_wakeup_bytes); this drains the rest. */
static int on_poll_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	uint64_t now;

	manager_drain(m);
	if (m->drain_again)
		return 0; /* the drain set the timer to fire again at once */
	if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0)
		now = usec;
	return sd_event_source_set_time(s, now + m->cfg->poll_interval_usec);
}

/* Wake-up threshold: 1/16 of the ring buffer, at most 256 KiB, so bursts never overflow it. */
static uint32_t manager_wakeup_bytes(const struct vigil_config *cfg)
{
	if (cfg->poll_interval_usec == 0)
		return 0;
	return MIN(cfg->ringbuf_size / 16, 256U * 1024);
}

static uint64_t manager_kernel_drops(struct manager *m)
{
	uint64_t drops[VIGIL_DROP_SLOTS] = {}, total = 0;

	if (bpf_loader_drops(m->bpf, drops) < 0)
		return 0;
	for (size_t i = 0; i < VIGIL_DROP_SLOTS; i++)
		total += drops[i];
	return total;
}

/* Emit one vigil_loss record if total grew past what was already reported. */
static void manager_report_loss(struct manager *m, enum loss_stage stage, const char *output,
				uint64_t total, uint64_t *reported)
{
	const uint8_t *rec;
	size_t size;
	uint64_t count;

	if (total <= *reported)
		return;
	count = total - *reported;
	*reported = total;
	m->loss_reported[stage] += count;
	log_warning("Lost %" PRIu64 " events at stage '%s'%s%s%s (%" PRIu64 " since start).", count,
		    loss_stage_name[stage], output ? " (output '" : "", strempty(output),
		    output ? "')" : "", total);
	if (record_encode_loss(m->encoder, now_usec(CLOCK_REALTIME) * NSEC_PER_USEC,
			       loss_stage_name[stage], output, count, total, &rec, &size) >= 0)
		manager_emit(m, VIGIL_RECORD_VIGIL_LOSS, rec, size);
}

/*
 * Turn new losses into vigil_loss records so consumers see the gap in-band. Queue losses are
 * reported per output instance, since each output loses different records.
 */
static void manager_report_losses(struct manager *m)
{
	size_t n = plugin_host_n_outputs(m->host);

	manager_report_loss(m, LOSS_KERNEL, NULL, manager_kernel_drops(m),
			    &m->loss_seen[LOSS_KERNEL]);
	manager_report_loss(m, LOSS_DECODE, NULL,
			    m->decode_errors + m->encode_errors + m->enqueue_errors +
				    m->policy_unknown,
			    &m->loss_seen[LOSS_DECODE]);
	for (size_t i = 0; i < n && i < m->n_queue_seen; i++) {
		struct output_stats st;

		plugin_host_stats(m->host, i, &st);
		manager_report_loss(m, LOSS_QUEUE, st.name, st.queue_dropped, &m->queue_seen[i]);
		manager_report_loss(m, LOSS_SPOOL, st.name, st.spool_dropped, &m->spool_seen[i]);
		/* dropped counts queue and spool losses too; the rest was lost at the sink. */
		/* The counters are read one by one while the worker updates them: never let a
		 * momentary mismatch wrap around. */
		manager_report_loss(m, LOSS_OUTPUT, st.name,
				    st.dropped > st.queue_dropped + st.spool_dropped
					    ? st.dropped - st.queue_dropped - st.spool_dropped
					    : 0,
				    &m->output_seen[i]);
	}
}

static void manager_update_clock(struct manager *m)
{
	int64_t off;

	/* NTP steps move CLOCK_REALTIME; re-read the offset so timestamps follow. */
	if (clock_boot_offset(&off) >= 0) {
		m->boot_offset_ns = off;
		if (m->encoder)
			record_encoder_set_boot_offset(m->encoder, off);
	}
}

static void manager_notify_status(struct manager *m)
{
	uint64_t now = now_usec(CLOCK_MONOTONIC), delivered = 0, retried = 0, spooled = 0;
	size_t healthy = 0, n = plugin_host_n_outputs(m->host);
	struct policy_engine_status ps;
	double rate = 0;

	policy_engine_status(m->policies, &ps);

	for (size_t i = 0; i < n; i++) {
		struct output_stats st;

		plugin_host_stats(m->host, i, &st);
		delivered += st.delivered;
		retried += st.retried;
		healthy += !st.paused;
		spooled += st.spool_records;
	}
	if (m->last_status_usec && now > m->last_status_usec)
		rate = (double)(m->events_in - m->events_at_last_status) * USEC_PER_SEC /
		       (double)(now - m->last_status_usec);
	m->last_status_usec = now;
	m->events_at_last_status = m->events_in;

	(void)sd_notifyf(0,
			 "STATUS=events=%" PRIu64 " (%.0f/s) delivered=%" PRIu64 " retried=%" PRIu64
			 " drops(kernel)=%" PRIu64 " drops(decode)=%" PRIu64
			 " drops(queue)=%" PRIu64 " drops(spool)=%" PRIu64 " spooled=%" PRIu64
			 " outputs=%zu/%zu procs=%zu policies=%zu/%zu"
			 " enforced(kill)=%" PRIu64 " enforced(signal)=%" PRIu64
			 " enforced(override)=%" PRIu64,
			 m->events_in, rate, delivered, retried, m->loss_reported[LOSS_KERNEL],
			 m->loss_reported[LOSS_DECODE], m->loss_reported[LOSS_QUEUE],
			 m->loss_reported[LOSS_SPOOL], spooled, healthy, n,
			 proc_cache_size(m->procs), ps.n_policies, ps.n_policies + ps.n_failed,
			 ps.actions[VIGIL_ACT_SIGKILL], ps.actions[VIGIL_ACT_SIGNAL],
			 ps.actions[VIGIL_ACT_OVERRIDE]);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;

	manager_update_clock(m);
	manager_report_losses(m);
	proc_cache_expire(m->procs, now_usec(CLOCK_BOOTTIME));
	manager_notify_status(m);
	return sd_event_source_set_time(s, usec + m->cfg->status_interval_usec);
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	log_info("Received SIG%s, draining and exiting.", sigabbrev_np((int)si->ssi_signo));
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

/*
 * Read policy.d again and make it the running set. Per policy: a new or changed policy that
 * fails keeps the old version (if any) running; the base sensor is never touched.
 */
static int manager_load_policies(struct manager *m)
{
	_cleanup_(policy_set_freep) struct policy_set *set = NULL;
	int r;

	r = policy_set_load(m->cfg->policy_dir_list, &set);
	if (r < 0)
		return log_error_errno(r, "Failed to read the policy directories: %m");
	r = policy_engine_apply(m->policies, set, m->procs);
	if (r < 0)
		return log_error_errno(r, "Failed to apply policies: %m");
	if (r > 0)
		log_warning("%d policies failed to load (see above); the others are running.", r);
	return r;
}

/* --- reload (docs/reload.md) --- */

static bool strv_equal(char **a, char **b)
{
	for (; a && *a && b && *b; a++, b++)
		if (!streq(*a, *b))
			return false;
	return !(a && *a) && !(b && *b);
}

static bool output_config_equal(const struct vigil_output_config *a,
				const struct vigil_output_config *b)
{
	if (!streq(a->name, b->name) || !streq(strempty(a->plugin), strempty(b->plugin)) ||
	    a->enabled != b->enabled || a->queue_size != b->queue_size ||
	    a->batch_size != b->batch_size || a->retry_max_usec != b->retry_max_usec ||
	    a->full_policy != b->full_policy || a->spool != b->spool ||
	    a->spool_max_size != b->spool_max_size || a->spool_sync != b->spool_sync ||
	    !strv_equal(a->events, b->events) || !strv_equal(a->filters, b->filters) ||
	    a->n_kvs != b->n_kvs)
		return false;
	/* Every assignment, in order; where it was written (file, line) does not matter. */
	for (size_t i = 0; i < a->n_kvs; i++)
		if (!streq(a->kvs[i].section, b->kvs[i].section) ||
		    !streq(a->kvs[i].key, b->kvs[i].key) ||
		    !streq(a->kvs[i].value, b->kvs[i].value))
			return false;
	return true;
}

static bool outputs_equal(const struct vigil_config *a, const struct vigil_config *b)
{
	if (a->n_outputs != b->n_outputs)
		return false;
	for (size_t i = 0; i < a->n_outputs; i++)
		if (!output_config_equal(&a->outputs[i], &b->outputs[i]))
			return false;
	return true;
}

#define SWAP(a, b)                                                                                 \
	do {                                                                                       \
		__typeof__(a) _t = (a);                                                            \
		(a) = (b);                                                                         \
		(b) = _t;                                                                          \
	} while (0)

/*
 * Settings the running daemon cannot change (they shape the BPF programs, the ring buffer, the
 * process cache or sockets opened at start): keep the running value in @new, so m->cfg keeps
 * describing what runs, and say that the change needs a restart.
 */
static void reload_keep_restart_only(struct vigil_config *new, struct vigil_config *old)
{
#define KEEP(cond, field, key)                                                                     \
	do {                                                                                       \
		if (cond)                                                                          \
			log_warning("Reload: %s= changed; it takes effect at the next restart.",   \
				    key);                                                          \
		SWAP(new->field, old->field);                                                      \
	} while (0)
	KEEP(!streq(new->node_name, old->node_name), node_name, "NodeName");
	KEEP(!streq(strempty(new->metrics_listen), strempty(old->metrics_listen)) ||
		     !new->metrics_listen != !old->metrics_listen,
	     metrics_listen, "MetricsListen");
	KEEP(!streq(strempty(new->socket_group), strempty(old->socket_group)), socket_group,
	     "SocketGroup");
	KEEP(new->ringbuf_size != old->ringbuf_size, ringbuf_size, "RingBufferSize");
	KEEP(new->argv_max != old->argv_max, argv_max, "ArgvMaxBytes");
	KEEP(new->clone_events != old->clone_events, clone_events, "CloneEvents");
	KEEP(new->poll_interval_usec != old->poll_interval_usec, poll_interval_usec,
	     "PollIntervalSec");
	KEEP(!strv_equal(new->exclude_binaries, old->exclude_binaries), exclude_binaries,
	     "ExcludeBinaries");
	KEEP(!strv_equal(new->exclude_cgroups, old->exclude_cgroups), exclude_cgroups,
	     "ExcludeCgroups");
	KEEP(new->cache_max_entries != old->cache_max_entries, cache_max_entries, "MaxEntries");
	KEEP(new->cache_grace_usec != old->cache_grace_usec, cache_grace_usec, "ExitGraceSec");
	KEEP(new->ancestors != old->ancestors, ancestors, "Ancestors");
#undef KEEP
}

static void manager_reset_loss_seen(struct manager *m)
{
	size_t n = plugin_host_n_outputs(m->host);

	free(m->queue_seen);
	free(m->output_seen);
	free(m->spool_seen);
	m->queue_seen = calloc(n + 1, sizeof(*m->queue_seen));
	m->output_seen = calloc(n + 1, sizeof(*m->output_seen));
	m->spool_seen = calloc(n + 1, sizeof(*m->spool_seen));
	m->n_queue_seen = m->queue_seen && m->output_seen && m->spool_seen ? n : 0;
}

static int manager_start_outputs(struct manager *m, const struct vigil_config *cfg,
				 struct plugin_host **ret)
{
	struct plugin_host_options pho = {
		.plugin_dir = m->plugin_dir,
		.state_dir = m->state_dir,
		.node_name = cfg->node_name,
		.check_owner = true,
	};
	struct plugin_host *h = NULL;
	int r;

	r = plugin_host_new(&pho, cfg->outputs, cfg->n_outputs, &h);
	if (r < 0)
		return r;
	r = plugin_host_start(h);
	if (r < 0) {
		(void)plugin_host_stop(h, 0);
		plugin_host_free(h);
		return r;
	}
	*ret = h;
	return 0;
}

/*
 * Swap the outputs for @new's. The running instances stop first (they drain their queues; a
 * spool keeps what is not confirmed, and the new instance of the same name reopens it), since
 * a spool has one user at a time. Meanwhile the kernel keeps events in the ring buffer. If the
 * new outputs cannot start, the previous ones are started again.
 */
static int manager_swap_outputs(struct manager *m, const struct vigil_config *new)
{
	struct plugin_host *h = NULL;
	int r, q;

	manager_drain(m); /* what the kernel produced so far goes out with the old outputs */
	manager_report_losses(m);
	r = plugin_host_stop(m->host, STOP_TIMEOUT_USEC);
	if (r < 0)
		log_warning_errno(r, "Reload: the previous outputs did not drain cleanly: %m");
	manager_report_losses(m);
	m->host = plugin_host_free(m->host);

	r = manager_start_outputs(m, new, &h);
	if (r < 0) {
		log_error_errno(r, "Reload: the new outputs failed to start (see above); starting "
				   "the previous ones again: %m");
		q = manager_start_outputs(m, m->cfg, &h);
		if (q < 0)
			log_error_errno(q,
					"Reload: the previous outputs failed to start too; events "
					"are collected but go nowhere until the next reload: %m");
	}
	m->host = h;
	manager_reset_loss_seen(m);
	return r;
}

int manager_reload(struct manager *m)
{
	_cleanup_(config_freep) struct vigil_config *new = NULL;
	struct config_source src = {.config_dir = m->config_dir};
	struct plugin_host_options pho = {
		.plugin_dir = m->plugin_dir,
		.node_name = m->cfg->node_name,
		.check_owner = true,
	};
	struct policy_engine_status st;
	bool outputs_changed;
	int r;

	(void)sd_notifyf(false, "RELOADING=1\nSTATUS=Reloading.\nMONOTONIC_USEC=%" PRIu64,
			 now_usec(CLOCK_MONOTONIC));

	/* Everything is checked before anything changes: files, values, plugins, keys. */
	r = config_load(&src, &new);
	if (r >= 0)
		r = plugin_host_validate(&pho, new->outputs, new->n_outputs, NULL);
	if (r < 0) {
		log_error("Reload rejected: the configuration has errors (see above); the running "
			  "configuration stays.");
		(void)sd_notify(false, "READY=1\nSTATUS=Reload rejected, running the previous "
				       "configuration.");
		return -EINVAL;
	}

	reload_keep_restart_only(new, m->cfg);
	outputs_changed = !outputs_equal(new, m->cfg);
	if (outputs_changed)
		r = manager_swap_outputs(m, new);
	if (r < 0) {
		/* Back on the previous outputs: keep describing those. */
		SWAP(new->outputs, m->cfg->outputs);
		SWAP(new->n_outputs, m->cfg->n_outputs);
	}
	if (new->status_interval_usec != m->cfg->status_interval_usec)
		(void)sd_event_source_set_time_relative(m->status_timer, new->status_interval_usec);
	SWAP(new, m->cfg); /* the previous one is freed on return */

	(void)manager_load_policies(m);
	policy_engine_status(m->policies, &st);
	log_info("Reloaded: %s; policies: %zu running with %zu hooks, %zu failed.",
		 r < 0		   ? "outputs unchanged (the new ones failed)"
		 : outputs_changed ? "outputs restarted"
				   : "outputs unchanged",
		 st.n_policies, st.n_hooks, st.n_failed);
	(void)sd_notify(false, "READY=1\nSTATUS=Reloaded.");
	return r < 0 ? -EINVAL : 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	log_info("Received SIGHUP: reloading the configuration, outputs and policies.");
	(void)manager_reload(userdata);
	return 0;
}

static int on_sigusr1(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct manager *m = userdata;

	log_info("Received SIGUSR1, reopening output files.");
	plugin_host_reopen(m->host);
	return 0;
}

/* Main thread: snapshot every counter and hand its text to the metrics server. */
static void manager_publish_metrics(struct manager *m)
{
	size_t n = plugin_host_n_outputs(m->host), size;
	_cleanup_free_ struct output_stats *outs = calloc(n + 1, sizeof(*outs));
	_cleanup_free_ struct metrics_bpf_prog *progs = NULL;
	struct policy_engine_status ps;
	struct metrics_snapshot s;
	char *text;

	if (!m->metrics || !outs)
		return;
	for (size_t i = 0; i < n; i++)
		plugin_host_stats(m->host, i, &outs[i]);
	policy_engine_status(m->policies, &ps);
	s = (struct metrics_snapshot){
		.start_time_usec = m->start_usec,
		.kernel_events = m->events_in,
		.lost_kernel = manager_kernel_drops(m),
		.lost_decode =
			m->decode_errors + m->encode_errors + m->enqueue_errors + m->policy_unknown,
		.outputs = outs,
		.n_outputs = n,
		.procs = proc_cache_size(m->procs),
		.procs_bytes = proc_cache_bytes(m->procs),
		.procs_evictions = proc_cache_evictions(m->procs),
		.policies_loaded = ps.n_policies,
		.policies_failed = ps.n_failed,
		.policy_hooks = ps.n_hooks,
		.bpf_stats_enabled = metrics_bpf_stats_enabled(),
	};
	memcpy(s.records_by_type, m->records_by_type, sizeof(s.records_by_type));
	memcpy(s.policy_actions, ps.actions, sizeof(s.policy_actions));
	if (metrics_bpf_programs(bpf_loader_skel(m->bpf), &progs, &s.n_progs) >= 0)
		s.progs = progs;
	if (metrics_render(&s, &text, &size) < 0) {
		log_ratelimited(LOG_WARNING, "Failed to render metrics: out of memory.");
		return;
	}
	metrics_server_publish(m->metrics, text, size);
}

static int on_metrics_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	manager_publish_metrics(userdata);
	return sd_event_source_set_time(s, usec + METRICS_INTERVAL_USEC);
}

/* ---- control socket (vigilctl) ---- */

static void manager_control_snapshot(void *userdata, struct control_snapshot *ret)
{
	struct manager *m = userdata;

	*ret = (struct control_snapshot){
		.node_name = m->cfg->node_name,
		.events_in = m->events_in,
		.records_out = m->records_out,
		.seq = m->seq,
		.loss_stages = loss_stage_name,
		.loss = m->loss_reported,
		.n_loss = _LOSS_STAGE_MAX,
		.kernel_drops = manager_kernel_drops(m),
		.procs = proc_cache_size(m->procs),
		.ringbuf_size = m->cfg->ringbuf_size,
		.clone_events = m->cfg->clone_events,
		.host = m->host,
		.policies = m->policies,
		.policy_env = &m->policy_env,
		.policy_dir_list = m->cfg->policy_dir_list,
	};
}

static int manager_control_reload(void *userdata)
{
	log_info("Reload requested over the control socket.");
	return manager_reload(userdata);
}

static int manager_control_start(struct manager *m, const struct manager_options *o)
{
	static const struct control_ops ops = {
		.snapshot = manager_control_snapshot,
		.reload = manager_control_reload,
	};
	struct control_options co = {
		.runtime_dir = o->runtime_dir,
		.socket_group = m->cfg->socket_group,
	};

	if (!o->runtime_dir)
		return 0;
	return control_new(m->event, &co, &ops, m, &m->control);
}

static int mkdir_p_0700(const char *path)
{
	char buf[4096];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int manager_new(struct vigil_config *cfg, const struct manager_options *o, struct manager **ret)
{
	_cleanup_(manager_freep) struct manager *m = NULL;
	struct proc_cache_options pco;
	struct plugin_host_options pho;
	struct bpf_loader_options blo;
	const char *metrics_listen;
	int r;

	assert(cfg);
	assert(o);
	assert(ret);

	m = calloc(1, sizeof(*m));
	if (!m) {
		config_free(cfg);
		return log_oom();
	}
	m->cfg = cfg;
	m->config_dir = o->config_dir;
	m->plugin_dir = o->plugin_dir;
	m->state_dir = o->state_dir;

	r = mkdir_p_0700(o->state_dir);
	if (r < 0)
		return log_error_errno(r, "Failed to create state directory '%s': %m",
				       o->state_dir);

	r = sd_event_default(&m->event);
	if (r < 0)
		return log_error_errno(r, "Failed to allocate event loop: %m");

	manager_update_clock(m);

	/* Outputs first: READY=1 must mean that events have somewhere to go. */
	pho = (struct plugin_host_options){
		.plugin_dir = o->plugin_dir,
		.state_dir = o->state_dir,
		.node_name = cfg->node_name,
		.check_owner = true,
	};
	r = plugin_host_new(&pho, cfg->outputs, cfg->n_outputs, &m->host);
	if (r < 0)
		return r;
	m->n_queue_seen = plugin_host_n_outputs(m->host);
	if (m->n_queue_seen == 0)
		log_warning("No output is enabled: events are collected but go nowhere.");
	m->queue_seen = calloc(m->n_queue_seen + 1, sizeof(*m->queue_seen));
	m->output_seen = calloc(m->n_queue_seen + 1, sizeof(*m->output_seen));
	m->spool_seen = calloc(m->n_queue_seen + 1, sizeof(*m->spool_seen));
	if (!m->queue_seen || !m->output_seen || !m->spool_seen)
		return log_oom();

	r = record_encoder_new(cfg->node_name, cfg->ancestors, &m->encoder);
	if (r < 0)
		return log_error_errno(r, "Failed to set up the record encoder: %m");
	manager_update_clock(m);

	r = cgroup_resolver_new(&m->cgroups);
	if (r < 0)
		log_warning_errno(r, "No cgroup v2 hierarchy found, cgroup paths, units and "
				     "containers will be missing: %m");

	pco = (struct proc_cache_options){
		.max_entries = cfg->cache_max_entries,
		.grace_usec = cfg->cache_grace_usec,
		.node_name = cfg->node_name,
		.proc_root = "/proc",
		.args_max = cfg->argv_max,
		.resolver = m->cgroups,
	};
	r = proc_cache_new(&pco, &m->procs);
	if (r < 0)
		return log_error_errno(r, "Failed to set up the process cache: %m");

	(void)bpf_ensure_fs_mounts();

	blo = (struct bpf_loader_options){
		.ringbuf_size = cfg->ringbuf_size,
		.argv_max = cfg->argv_max,
		.debug = o->debug,
		.wakeup_bytes = manager_wakeup_bytes(cfg),
		.exclude_binaries = cfg->exclude_binaries,
		.exclude_cgroups = cfg->exclude_cgroups,
	};
	r = bpf_loader_new(&blo, manager_handle_sample, m, &m->bpf);
	if (r < 0)
		return r;

	/*
	 * Scan /proc only after the programs are attached: a process started in between is then
	 * either in the scan or in the ring buffer (processed after the scan), never in neither.
	 */
	r = proc_cache_scan(m->procs);
	if (r < 0)
		log_warning_errno(r, "Failed to read running processes from /proc, parents of "
				     "already running processes will be missing: %m");
	else
		log_info("Found %zu running processes in /proc.", proc_cache_size(m->procs));

	/* Without tracefs (logged) only the policies fail, each saying why; the base sensor runs.
	 */
	(void)policy_env_probe(&m->policy_env);
	r = policy_engine_new(bpf_loader_skel(m->bpf), &m->policy_env,
			      m->cgroups ? cgroup_resolver_root(m->cgroups) : NULL, &m->policies);
	if (r < 0)
		return r;
	r = manager_load_policies(m);
	if (r < 0)
		return r;

	r = sd_event_add_io(m->event, &m->ringbuf_source, bpf_loader_fd(m->bpf), EPOLLIN,
			    on_ringbuf, m);
	if (r < 0)
		return log_error_errno(r, "Failed to watch the BPF ring buffer: %m");

	if (cfg->poll_interval_usec > 0) {
		r = sd_event_add_time_relative(m->event, &m->poll_timer, CLOCK_MONOTONIC,
					       cfg->poll_interval_usec,
					       cfg->poll_interval_usec / 10, on_poll_timer, m);
		if (r >= 0)
			r = sd_event_source_set_enabled(m->poll_timer, SD_EVENT_ON);
		if (r < 0)
			return log_error_errno(r, "Failed to add ring buffer poll timer: %m");
	}

	r = sd_event_add_time_relative(m->event, &m->status_timer, CLOCK_MONOTONIC,
				       cfg->status_interval_usec, USEC_PER_SEC, on_status_timer, m);
	if (r < 0)
		return log_error_errno(r, "Failed to add status timer: %m");
	r = sd_event_source_set_enabled(m->status_timer, SD_EVENT_ON);
	if (r < 0)
		return log_error_errno(r, "Failed to enable status timer: %m");

	/*
	 * Metrics (docs/metrics.md). An address that cannot be bound is a start-up error when
	 * MetricsListen= names it; the default one only costs the metrics (warning): a security
	 * sensor does not stop collecting because something else took port 9847.
	 */
	m->start_usec = now_usec(CLOCK_REALTIME);
	metrics_listen = cfg->metrics_listen ? cfg->metrics_listen : VIGIL_METRICS_LISTEN_DEFAULT;
	r = isempty(metrics_listen)
		    ? 0
		    : metrics_server_new(metrics_listen, cfg->metrics_listen != NULL, &m->metrics);
	if (r < 0 && cfg->metrics_listen)
		return r;
	if (m->metrics) {
		manager_publish_metrics(m);
		r = sd_event_add_time_relative(m->event, &m->metrics_timer, CLOCK_MONOTONIC,
					       METRICS_INTERVAL_USEC, USEC_PER_SEC / 10,
					       on_metrics_timer, m);
		if (r >= 0)
			r = sd_event_source_set_enabled(m->metrics_timer, SD_EVENT_ON);
		if (r < 0)
			return log_error_errno(r, "Failed to add the metrics timer: %m");
	}

	r = sd_event_add_signal(m->event, NULL, SIGTERM, on_exit_signal, m);
	if (r >= 0)
		r = sd_event_add_signal(m->event, NULL, SIGINT, on_exit_signal, m);
	if (r >= 0)
		r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
	if (r >= 0)
		r = sd_event_add_signal(m->event, NULL, SIGUSR1, on_sigusr1, m);
	if (r < 0)
		return log_error_errno(r, "Failed to install signal handlers: %m");

	r = sd_event_set_watchdog(m->event, true);
	if (r < 0)
		log_warning_errno(r, "Failed to enable the watchdog, ignoring: %m");

	/* Before the output threads start: it sets the umask around bind(). */
	r = manager_control_start(m, o);
	if (r < 0)
		return r;

	r = plugin_host_start(m->host);
	if (r < 0)
		return log_error_errno(r, "Failed to start output threads: %m");

	*ret = TAKE_PTR(m);
	return 0;
}

int manager_run(struct manager *m)
{
	int r, exit_code = 0;

	assert(m);

	log_info("vigild " PACKAGE_VERSION " running on node '%s', %zu output(s).",
		 m->cfg->node_name, plugin_host_n_outputs(m->host));
	(void)sd_notify(0, "READY=1\nSTATUS=Sensors attached, events flowing.");

	r = sd_event_loop(m->event);
	if (r < 0) {
		log_error_errno(r, "Event loop failed: %m");
		exit_code = r;
	}

	(void)sd_notify(0, "STOPPING=1\nSTATUS=Draining outputs.");
	m->stopping = true;

	/* No new events, then everything the kernel already produced. */
	bpf_loader_detach(m->bpf);
	policy_engine_detach(m->policies);
	manager_drain(m);
	manager_report_losses(m);

	r = plugin_host_stop(m->host, STOP_TIMEOUT_USEC);
	if (r < 0)
		log_warning_errno(r, "Outputs did not drain cleanly: %m");
	log_info("Stopped after %" PRIu64 " events.", m->events_in);
	return exit_code;
}

struct manager *manager_free(struct manager *m)
{
	if (!m)
		return NULL;
	sd_event_source_unref(m->ringbuf_source);
	sd_event_source_unref(m->status_timer);
	sd_event_source_unref(m->poll_timer);
	control_free(m->control);
	sd_event_source_unref(m->metrics_timer);
	metrics_server_free(m->metrics);
	policy_engine_free(m->policies);
	bpf_loader_free(m->bpf);
	plugin_host_free(m->host);
	proc_cache_free(m->procs);
	record_encoder_free(m->encoder);
	cgroup_resolver_free(m->cgroups);
	config_free(m->cfg);
	free(m->queue_seen);
	free(m->output_seen);
	free(m->spool_seen);
	sd_event_unref(m->event);
	free(m);
	return NULL;
}

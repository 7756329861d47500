/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpf_loader.h"
#include "log.h"
#include "bpf/vigil.skel.h"

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"
#define TRACEFS_DIR "/sys/kernel/tracing"
#define BPFFS_DIR   "/sys/fs/bpf"

struct bpf_loader {
	struct vigil_bpf *skel;
	struct ring_buffer *rb;
	bpf_sample_fn fn;
	void *userdata;
	int ncpus;
	bool have_connect; /* the cgroup connect programs are loaded */
};

static int loader_sample(void *ctx, void *data, size_t size)
{
	struct bpf_loader *l = ctx;

	return l->fn(l->userdata, data, size);
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static int check_options(const struct bpf_loader_options *o)
{
	long page = sysconf(_SC_PAGESIZE);

	if (!is_pow2(o->ringbuf_size) || (page > 0 && o->ringbuf_size < (uint32_t)page))
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
				       "BPF ring buffer size %" PRIu32
				       " is not a power of two of at least the page size (%ld).",
				       o->ringbuf_size, page);
	if (o->argv_max > VIGIL_ARGS_MAX)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
				       "argv limit %" PRIu32 " exceeds the maximum of %u bytes.",
				       o->argv_max, VIGIL_ARGS_MAX);
	return 0;
}

static bool strv_isempty(char *const *l)
{
	return !l || !l[0];
}

/* [Sensor] ExcludeBinaries= / ExcludeCgroups= into the filter maps (config.c checked lengths). */
static int filters_write(struct bpf_loader *l, const struct bpf_loader_options *o)
{
	uint8_t one = 1;

	for (char *const *b = o->exclude_binaries; b && *b; b++) {
		struct vigil_filter_prefix_key k = {};
		size_t len = strlen(*b);

		if (len > sizeof(k.data))
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
					       "Binary prefix '%s' is too long.", *b);
		memcpy(k.data, *b, len);
		k.prefixlen = 8 * (uint32_t)len;
		if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.filter_binaries), &k, &one,
					BPF_ANY) < 0)
			return log_error_errno(errno, "Failed to add binary filter '%s': %m", *b);
	}
	for (char *const *c = o->exclude_cgroups; c && *c; c++) {
		struct vigil_filter_name_key k = {};

		if (strlen(*c) >= sizeof(k.name))
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
					       "cgroup name '%s' is too long.", *c);
		strncpy(k.name, *c, sizeof(k.name) - 1);
		if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.filter_cgroups), &k, &one,
					BPF_ANY) < 0)
			return log_error_errno(errno, "Failed to add cgroup filter '%s': %m", *c);
	}
	return 0;
}

static bool cap_is_set(const struct __user_cap_data_struct d[2], unsigned cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

/*
 * Loading and attaching tracing programs needs CAP_BPF and CAP_PERFMON (Linux >= 5.8), or
 * CAP_SYS_ADMIN, in the effective set: a service running as a dedicated user with
 * AmbientCapabilities=CAP_BPF CAP_PERFMON is fine, uid 0 is not required. capget(2) directly, so
 * there is no libcap dependency. Returns 1 when capable, 0 when not, -errno if capget() failed.
 */
static int has_bpf_caps(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	if (cap_is_set(d, CAP_SYS_ADMIN))
		return 1;
	return cap_is_set(d, CAP_BPF) && cap_is_set(d, CAP_PERFMON);
}

/* cgroup sock_addr programs (connect Override) need CAP_NET_ADMIN (or CAP_SYS_ADMIN) to load. */
static bool has_net_admin(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return cap_is_set(d, CAP_SYS_ADMIN) || cap_is_set(d, CAP_NET_ADMIN);
}

static int check_kernel(void)
{
	int r;

	r = has_bpf_caps();
	if (r < 0)
		return log_error_errno(r, "Failed to read the process capabilities: %m");
	if (r == 0)
		return log_error_errno(SYNTHETIC_ERRNO(EPERM),
				       "Loading BPF programs needs root (CAP_BPF, CAP_PERFMON); "
				       "run vigild as root.");
	if (access(VMLINUX_BTF, R_OK) < 0)
		return log_error_errno(errno,
				       "Kernel BTF %s is not available (%m): vigil's CO-RE sensors "
				       "need a kernel built with CONFIG_DEBUG_INFO_BTF=y.",
				       VMLINUX_BTF);
	r = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);
	if (r < 0)
		return log_error_errno(r, "Probing for BPF ring buffer support failed: %m");
	if (r == 0)
		return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
				       "This kernel has no BPF ring buffer (BPF_MAP_TYPE_RINGBUF, "
				       "Linux >= 5.8); vigil requires it.");
	/*
	 * The path walker runs in bpf_loop() (Linux >= 5.17). libbpf cannot probe helpers for
	 * BPF_PROG_TYPE_TRACING (it returns -EOPNOTSUPP: tracing programs need an attach target);
	 * bpf_loop is a base helper offered to every program type, so a socket filter answers
	 * the same question without depending on kprobe support.
	 */
	r = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCKET_FILTER, BPF_FUNC_loop, NULL);
	if (r < 0)
		return log_error_errno(r, "Probing for the bpf_loop() helper failed: %m");
	if (r == 0)
		return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
				       "This kernel lacks the bpf_loop() BPF helper: vigil needs "
				       "Linux >= 5.17 (bpf_loop).");
	return 0;
}

/*
 * libbpf reports verifier rejections, missing kernel features and attach failures as -EINVAL,
 * -EACCES, -E2BIG and so on. None of them is a configuration error (the options were checked
 * above), and the daemon maps -EINVAL to EX_CONFIG, so report them all as -ENOEXEC after
 * logging the real error. -EPERM stays: it names the missing privilege.
 */
static int load_error(int r)
{
	return r == -EPERM ? r : -ENOEXEC;
}

static void bump_memlock(void)
{
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};

	/* Kernels >= 5.11 charge BPF memory to the cgroup instead; failure is harmless there. */
	if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		log_debug_errno(errno, "Failed to raise RLIMIT_MEMLOCK, ignoring: %m");
}

int bpf_loader_new(const struct bpf_loader_options *o, bpf_sample_fn fn, void *userdata,
		   struct bpf_loader **ret)
{
	_cleanup_(bpf_loader_freep) struct bpf_loader *l = NULL;
	int r;

	if (!o || !fn || !ret)
		return -EINVAL;
	r = check_options(o);
	if (r < 0)
		return r;
	r = check_kernel();
	if (r < 0)
		return r;

	log_setup_libbpf();
	bump_memlock();

	l = calloc(1, sizeof(*l));
	if (!l)
		return log_oom();
	l->fn = fn;
	l->userdata = userdata;
	l->ncpus = libbpf_num_possible_cpus();
	if (l->ncpus <= 0)
		return log_error_errno(l->ncpus ?: -EINVAL, "Failed to count possible CPUs: %m");

	l->skel = vigil_bpf__open();
	if (!l->skel)
		return load_error(log_error_errno(errno, "Failed to open the BPF object: %m"));

	l->skel->rodata->cfg_argv_max = o->argv_max;
	l->skel->rodata->cfg_debug = o->debug;
	l->skel->rodata->cfg_wakeup_bytes = o->wakeup_bytes;
	l->skel->rodata->cfg_self_tgid = (uint32_t)getpid();
	l->skel->rodata->cfg_have_set_retval =
		libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_set_retval, NULL) >
		0;
	l->skel->rodata->cfg_filter_flags =
		(!strv_isempty(o->exclude_binaries) ? VIGIL_FILTER_F_BINARIES : 0) |
		(!strv_isempty(o->exclude_cgroups) ? VIGIL_FILTER_F_CGROUPS : 0);
	/*
	 * The connect programs enforce Override on connect. Without CAP_NET_ADMIN they can not
	 * load; everything else still works and a policy that needs them fails on its own.
	 */
	l->have_connect = has_net_admin();
	if (!l->have_connect) {
		log_notice("No CAP_NET_ADMIN: Override on connect is not available to policies.");
		(void)bpf_program__set_autoload(l->skel->progs.handle_connect4, false);
		(void)bpf_program__set_autoload(l->skel->progs.handle_connect6, false);
	}
	r = bpf_map__set_max_entries(l->skel->maps.events, o->ringbuf_size);
	if (r < 0)
		return load_error(log_error_errno(r, "Failed to set the BPF ring buffer size: %m"));
	r = bpf_map__set_max_entries(l->skel->maps.scratch, (uint32_t)l->ncpus);
	if (r < 0)
		return load_error(log_error_errno(r, "Failed to size the BPF scratch map: %m"));
	r = bpf_map__set_max_entries(l->skel->maps.pol_scratch, (uint32_t)l->ncpus);
	if (r < 0)
		return load_error(
			log_error_errno(r, "Failed to size the BPF policy scratch map: %m"));

	r = vigil_bpf__load(l->skel);
	if (r == -EPERM)
		return log_error_errno(r, "Loading BPF programs needs root (CAP_BPF, CAP_PERFMON); "
					  "the kernel refused: %m");
	if (r < 0)
		return load_error(log_error_errno(r,
						  "Failed to load the BPF programs (see the libbpf "
						  "messages above; run with -v for the verifier "
						  "log): %m"));

	r = filters_write(l, o);
	if (r < 0)
		return r;

	r = vigil_bpf__attach(l->skel);
	if (r < 0)
		return load_error(log_error_errno(r, "Failed to attach the BPF programs: %m"));

	l->rb = ring_buffer__new(bpf_map__fd(l->skel->maps.events), loader_sample, l, NULL);
	if (!l->rb)
		return load_error(
			log_error_errno(errno, "Failed to set up the BPF ring buffer reader: %m"));

	log_debug("BPF base sensor attached: ring buffer %" PRIu32 " bytes, argv limit %" PRIu32
		  " bytes, %d CPUs.",
		  o->ringbuf_size, o->argv_max, l->ncpus);
	*ret = TAKE_PTR(l);
	return 0;
}

int bpf_loader_fd(struct bpf_loader *l)
{
	if (!l || !l->rb)
		return -EINVAL;
	return ring_buffer__epoll_fd(l->rb);
}

int bpf_loader_consume(struct bpf_loader *l)
{
	if (!l || !l->rb)
		return -EINVAL;
	return ring_buffer__consume(l->rb);
}

int bpf_loader_drops(struct bpf_loader *l, uint64_t ret_drops[VIGIL_DROP_SLOTS])
{
	_cleanup_free_ uint64_t *vals = NULL;
	int r;

	if (!l || !l->skel || !ret_drops)
		return -EINVAL;
	vals = calloc((size_t)l->ncpus, sizeof(uint64_t));
	if (!vals)
		return -ENOMEM;
	for (uint32_t key = 0; key < VIGIL_DROP_SLOTS; key++) {
		uint64_t sum = 0;

		r = bpf_map__lookup_elem(l->skel->maps.drop_stats, &key, sizeof(key), vals,
					 (size_t)l->ncpus * sizeof(uint64_t), 0);
		if (r < 0)
			return log_debug_errno(r, "Failed to read drop_stats[%" PRIu32 "]: %m",
					       key);
		for (int cpu = 0; cpu < l->ncpus; cpu++)
			sum += vals[cpu];
		ret_drops[key] = sum;
	}
	return 0;
}

void bpf_loader_detach(struct bpf_loader *l)
{
	if (l && l->skel)
		vigil_bpf__detach(l->skel);
}

struct bpf_loader *bpf_loader_free(struct bpf_loader *l)
{
	if (!l)
		return NULL;
	ring_buffer__free(l->rb);
	vigil_bpf__destroy(l->skel);
	free(l);
	return NULL;
}

/* Is a file system of type `fstype` mounted exactly on `dir`? (/proc/self/mountinfo) */
static int fs_mounted(const char *dir, const char *fstype)
{
	_cleanup_fclose_ FILE *f = NULL;
	char line[4096];

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char mnt[1024], type[64];
		const char *sep;

		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE OPTS" */
		if (sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1)
			continue;
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep + 3, "%63s", type) != 1)
			continue;
		if (streq(mnt, dir) && streq(type, fstype))
			return 1;
	}
	return 0;
}

static int ensure_mount(const char *dir, const char *fstype, const char *opts)
{
	int r;

	r = fs_mounted(dir, fstype);
	if (r < 0)
		return log_warning_errno(r, "Failed to read /proc/self/mountinfo, ignoring: %m");
	if (r > 0)
		return 0;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return log_warning_errno(errno, "Failed to create %s, ignoring: %m", dir);
	if (mount(fstype, dir, fstype, MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		return log_warning_errno(errno, "Failed to mount %s on %s, ignoring: %m", fstype,
					 dir);
	log_info("Mounted %s on %s (it was missing).", fstype, dir);
	return 1;
}

int bpf_ensure_fs_mounts(void)
{
	int r, ret = 0;

	r = ensure_mount(TRACEFS_DIR, "tracefs", NULL);
	if (r < 0)
		ret = r;
	else if (r > 0)
		ret = 1;
	r = ensure_mount(BPFFS_DIR, "bpf", "mode=0700");
	if (r < 0)
		ret = ret < 0 ? ret : r;
	else if (r > 0 && ret == 0)
		ret = 1;
	return ret;
}

struct vigil_bpf *bpf_loader_skel(struct bpf_loader *l)
{
	return l->skel;
}

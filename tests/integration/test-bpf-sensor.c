/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Root-only integration test of the base process sensor: loads the real BPF programs, runs
 * children that exec, exit, die and fork, and checks the raw samples (bpf/events.h) against what
 * the kernel reports through /proc, stat(2) and waitpid(2).
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "bpf_loader.h"
#include "log.h"
#include "tap.h"

#define MAX_RECS    8192
#define MAX_TRACKED 512
#define ARGV_MAX    16384

struct rec {
	uint16_t type;
	uint32_t tgid;
	size_t size;
	uint8_t *data;
};

static struct bpf_loader *loader;
static struct rec recs[MAX_RECS];
static size_t n_recs;
static pid_t tracked[MAX_TRACKED];
static size_t n_tracked;
static unsigned long bad_samples, total_samples;
static char tmpdir[PATH_MAX];
static char true_path[PATH_MAX]; /* realpath("/bin/true") */

static bool is_tracked(uint32_t tgid)
{
	for (size_t i = 0; i < n_tracked; i++)
		if ((uint32_t)tracked[i] == tgid)
			return true;
	return false;
}

static void track(pid_t pid)
{
	if (n_tracked < MAX_TRACKED)
		tracked[n_tracked++] = pid;
}

/* Checks every sample (also from other processes) and keeps the ones from our children. */
static int on_sample(void *userdata, const void *data, size_t size)
{
	const struct vigil_event_hdr *h = data;

	total_samples++;
	if (size < sizeof(*h) || h->size != size || h->version != VIGIL_EVENT_VERSION) {
		bad_samples++;
		return 0;
	}
	switch (h->type) {
	case VIGIL_EV_EXEC: {
		const struct vigil_exec_event *e = data;

		if (size < sizeof(*e) ||
		    sizeof(*e) + (size_t)e->binary_len + e->cwd_len + e->args_len != size) {
			bad_samples++;
			return 0;
		}
		break;
	}
	case VIGIL_EV_EXIT:
		if (size != sizeof(struct vigil_exit_event))
			bad_samples++;
		break;
	case VIGIL_EV_CLONE:
		if (size != sizeof(struct vigil_clone_event))
			bad_samples++;
		break;
	default:
		bad_samples++;
		return 0;
	}
	if (!is_tracked(h->tgid) || n_recs >= MAX_RECS)
		return 0;
	recs[n_recs].type = h->type;
	recs[n_recs].tgid = h->tgid;
	recs[n_recs].size = size;
	recs[n_recs].data = malloc(size);
	if (!recs[n_recs].data)
		return -ENOMEM;
	memcpy(recs[n_recs].data, data, size);
	n_recs++;
	return 0;
}

static int count_events(uint16_t type, pid_t tgid)
{
	int n = 0;

	for (size_t i = 0; i < n_recs; i++)
		if (recs[i].type == type && recs[i].tgid == (uint32_t)tgid)
			n++;
	return n;
}

static const void *find_event(uint16_t type, pid_t tgid)
{
	for (size_t i = 0; i < n_recs; i++)
		if (recs[i].type == type && recs[i].tgid == (uint32_t)tgid)
			return recs[i].data;
	return NULL;
}

/* Consume until an event of `type` for `tgid` arrived; gives up after ~10 s (not an assertion). */
static const void *wait_event(uint16_t type, pid_t tgid)
{
	struct pollfd p = {.fd = bpf_loader_fd(loader), .events = POLLIN};

	for (int i = 0; i < 100; i++) {
		const void *e;

		if (bpf_loader_consume(loader) < 0)
			return NULL;
		e = find_event(type, tgid);
		if (e)
			return e;
		(void)poll(&p, 1, 100);
	}
	return NULL;
}

static void drain(void)
{
	(void)bpf_loader_consume(loader);
}

/* Fork a child that chdir()s to `dir` (if set) and execs `path` with `argv` and no environment. */
static pid_t spawn(const char *dir, const char *path, char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		char *envp[] = {NULL};

		if (dir && chdir(dir) < 0)
			_exit(126);
		execve(path, argv, envp);
		_exit(127);
	}
	if (pid > 0)
		track(pid);
	return pid;
}

static int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* Field 22 of /proc/PID/stat: start time in clock ticks since boot. */
static unsigned long long proc_starttime(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* After ") " comes field 3; starttime is field 22. */
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
		   "%*d %llu",
		   &v) != 1)
		return 0;
	return v;
}

static unsigned long long ns_to_ticks(uint64_t ns)
{
	return ns / (1000000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* cgroup id of our own cgroup v2 directory = inode of that directory on the cgroup2 mount. */
static uint64_t own_cgroup_id(void)
{
	char line[4096], mnt[1024] = "", cg[4096] = "", path[5200];
	struct stat st;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char m[1024], type[64];
		const char *sep = strstr(line, " - ");

		if (sscanf(line, "%*s %*s %*s %*s %1023s", m) == 1 && sep &&
		    sscanf(sep + 3, "%63s", type) == 1 && streq(type, "cgroup2")) {
			snprintf(mnt, sizeof(mnt), "%s", m);
			break;
		}
	}
	fclose(f);
	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0) {
			snprintf(cg, sizeof(cg), "%s", line + 3);
			cg[strcspn(cg, "\n")] = '\0';
		}
	fclose(f);
	if (!mnt[0] || !cg[0])
		return 0;
	snprintf(path, sizeof(path), "%s%s", mnt, cg);
	if (stat(path, &st) < 0)
		return 0;
	return st.st_ino;
}

static bool mounted(const char *dir, const char *fstype)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char m[1024], type[64];
		const char *sep = strstr(line, " - ");

		found = sscanf(line, "%*s %*s %*s %*s %1023s", m) == 1 && sep &&
			sscanf(sep + 3, "%63s", type) == 1 && streq(m, dir) && streq(type, fstype);
	}
	fclose(f);
	return found;
}

static char *exec_binary(const struct vigil_exec_event *e)
{
	return strndup(e->data, e->binary_len);
}

static char *exec_cwd(const struct vigil_exec_event *e)
{
	return strndup(e->data + e->binary_len, e->cwd_len);
}

/* Compare the NUL-separated argv area with the expected vector (complete, not truncated). */
static bool exec_args_equal(const struct vigil_exec_event *e, char *const argv[])
{
	const char *p = e->data + e->binary_len + e->cwd_len, *end = p + e->args_len;
	size_t i = 0;

	for (; argv[i]; i++) {
		size_t l = strlen(argv[i]);

		if ((size_t)(end - p) < l + 1 || memcmp(p, argv[i], l + 1) != 0) {
			printf("# argv[%zu] differs (expected \"%s\")\n", i, argv[i]);
			return false;
		}
		p += l + 1;
	}
	return p == end;
}

static void setup(void)
{
	struct bpf_loader_options o = {.ringbuf_size = 8u << 20, .argv_max = ARGV_MAX};

	if (loader)
		return;
	ASSERT_NOT_NULL(realpath("/bin/true", true_path));
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vigil-bpf-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(tmpdir));
	ASSERT_OK(bpf_loader_new(&o, on_sample, NULL, &loader));
	ASSERT_OK(bpf_loader_fd(loader));
}

TEST(options_are_checked)
{
	struct bpf_loader_options o = {.ringbuf_size = 3000, .argv_max = 1024};
	struct bpf_loader *l = NULL;

	ASSERT_ERRNO(bpf_loader_new(&o, on_sample, NULL, &l), EINVAL);
	o.ringbuf_size = 1 << 20;
	o.argv_max = VIGIL_ARGS_MAX + 1;
	ASSERT_ERRNO(bpf_loader_new(&o, on_sample, NULL, &l), EINVAL);
	ASSERT_NULL(l);
}

TEST(not_root_is_eperm)
{
	struct bpf_loader_options o = {.ringbuf_size = 1 << 20, .argv_max = 1024};
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct bpf_loader *l = NULL;

		if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		_exit(bpf_loader_new(&o, on_sample, NULL, &l) == -EPERM && !l ? 0 : 1);
	}
	ASSERT_EQ(reap(pid), 0);
}

/*
 * Child: switch to uid/gid 65534 keeping the capabilities in `caps` (bit numbers), or stay uid 0
 * with only those when `keep_root`, then load. Exits 0 when bpf_loader_new() returned `expect`.
 */
static int load_with_caps(const unsigned *caps, size_t n, bool keep_root, int expect)
{
	struct bpf_loader_options o = {.ringbuf_size = 1 << 16, .argv_max = 1024};
	pid_t pid = fork();

	if (pid == 0) {
		struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
		struct __user_cap_data_struct d[2] = {};
		struct bpf_loader *l = NULL;
		int r;

		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			_exit(100);
		if (!keep_root &&
		    (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0))
			_exit(101);
		for (size_t i = 0; i < n; i++) {
			d[caps[i] / 32].effective |= 1U << (caps[i] % 32);
			d[caps[i] / 32].permitted |= 1U << (caps[i] % 32);
		}
		if (syscall(SYS_capset, &h, d) < 0)
			_exit(102);
		r = bpf_loader_new(&o, on_sample, NULL, &l);
		printf("# bpf_loader_new() = %d (expected %d)\n", r, expect);
		fflush(stdout);
		l = bpf_loader_free(l);
		_exit(r == expect ? 0 : 1);
	}
	return pid < 0 ? -1 : reap(pid);
}

/* Not uid 0 but CAP_BPF + CAP_PERFMON (a systemd service with AmbientCapabilities=) is enough. */
TEST(capabilities_not_uid)
{
	static const unsigned bpf_perfmon[] = {CAP_BPF, CAP_PERFMON};
	static const unsigned sys_admin[] = {CAP_SYS_ADMIN};
	static const unsigned bpf_only[] = {CAP_BPF};

	ASSERT_EQ(load_with_caps(bpf_perfmon, ELEMENTSOF(bpf_perfmon), false, 0), 0);
	ASSERT_EQ(load_with_caps(sys_admin, ELEMENTSOF(sys_admin), false, 0), 0);
	ASSERT_EQ(load_with_caps(bpf_only, ELEMENTSOF(bpf_only), false, -EPERM), 0);
	/* uid 0 without the capabilities (a bounding-set-restricted root) is refused up front. */
	ASSERT_EQ(load_with_caps(NULL, 0, true, -EPERM), 0);
}

/*
 * The kernel refusing to attach (libbpf says -EINVAL, as it does for many verifier and attach
 * failures) is not a configuration error: bpf_loader_new() reports -ENOEXEC, so the daemon does
 * not exit with EX_CONFIG. seccomp makes the attach calls fail with EINVAL in a child.
 */
TEST(attach_failure_is_enoexec)
{
	struct bpf_loader_options o = {.ringbuf_size = 1 << 16, .argv_max = 1024};
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bpf, 0, 4),
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, BPF_RAW_TRACEPOINT_OPEN, 1, 0),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, BPF_LINK_CREATE, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {.len = ELEMENTSOF(f), .filter = f};
		struct bpf_loader *l = NULL;
		int r;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			_exit(100);
		r = bpf_loader_new(&o, on_sample, NULL, &l);
		printf("# bpf_loader_new() = %d\n", r);
		fflush(stdout);
		_exit(r == -ENOEXEC && !l ? 0 : 1);
	}
	ASSERT_EQ(reap(pid), 0);
}

TEST(exec_fields)
{
	char *argv[] = {"true", "with space", "", "n\xc3\xafn-\xe2\x82\xac", "\t\"q\"", NULL};
	const struct vigil_exec_event *e;
	_cleanup_free_ char *bin = NULL, *cwd = NULL;
	struct stat st;
	pid_t pid;

	setup();
	pid = spawn("/", "/bin/true", argv);
	ASSERT_GE(pid, 0);
	e = wait_event(VIGIL_EV_EXEC, pid);
	ASSERT_NOT_NULL(e);
	ASSERT_EQ(count_events(VIGIL_EV_EXEC, pid), 1);
	ASSERT_EQ(e->hdr.pid, pid);
	ASSERT_EQ(e->old_pid, pid);
	ASSERT_EQ(e->ppid, getpid());
	ASSERT_EQ(e->creds.uid, getuid());
	ASSERT_EQ(e->creds.euid, geteuid());
	ASSERT_EQ(e->creds.gid, getgid());
	ASSERT_EQ(e->creds.egid, getegid());
	ASSERT_EQ(e->hdr.cgroup_id, own_cgroup_id());
	ASSERT_EQ(e->flags, 0);
	ASSERT_EQ(ns_to_ticks(e->parent_start_boottime), proc_starttime(getpid()));
	/* The child is a zombie until reaped, so /proc/PID/stat is still there. */
	ASSERT_EQ(ns_to_ticks(e->start_boottime), proc_starttime(pid));
	ASSERT_NOT_NULL(wait_event(VIGIL_EV_EXIT, pid));
	ASSERT_EQ(reap(pid), 0);
	/* /bin is a symlink on merged-/usr systems: the kernel path is the real one. */
	bin = exec_binary(e);
	ASSERT_STREQ(bin, true_path);
	ASSERT_OK(stat(true_path, &st));
	ASSERT_EQ(e->exe_ino, st.st_ino);
	cwd = exec_cwd(e);
	ASSERT_STREQ(cwd, "/");
	ASSERT_TRUE(exec_args_equal(e, argv));
	ASSERT_GE(e->hdr.ts_ns, e->start_boottime);
}

TEST(exec_200_args)
{
	char *argv[202], bufs[201][16];
	const struct vigil_exec_event *e;
	pid_t pid;

	setup();
	argv[0] = "true";
	for (int i = 1; i <= 200; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "arg-%d", i);
		argv[i] = bufs[i];
	}
	argv[201] = NULL;
	pid = spawn(NULL, "/bin/true", argv);
	e = wait_event(VIGIL_EV_EXEC, pid);
	ASSERT_NOT_NULL(e);
	ASSERT_EQ(reap(pid), 0);
	ASSERT_EQ(e->flags & VIGIL_EXEC_F_TRUNC_ARGS, 0);
	ASSERT_TRUE(exec_args_equal(e, argv));
}

TEST(exec_64k_arg_truncated)
{
	const struct vigil_exec_event *e;
	_cleanup_free_ char *big = malloc(65536);
	char *argv[] = {"true", "first", big, NULL};
	const char *args;
	pid_t pid;

	setup();
	ASSERT_NOT_NULL(big);
	memset(big, 'A', 65535);
	big[65535] = '\0';
	pid = spawn(NULL, "/bin/true", argv);
	e = wait_event(VIGIL_EV_EXEC, pid);
	ASSERT_NOT_NULL(e);
	ASSERT_EQ(reap(pid), 0);
	ASSERT_TRUE(e->flags & VIGIL_EXEC_F_TRUNC_ARGS);
	ASSERT_EQ(e->args_len, ARGV_MAX);
	args = e->data + e->binary_len + e->cwd_len;
	ASSERT_MEMEQ(args, "true\0first\0AAAA", 15);
	ASSERT_EQ(args[ARGV_MAX - 1], 'A');
}

TEST(exec_symlink_relative_and_cwd)
{
	char link[PATH_MAX + 80], dir[PATH_MAX + 64], real_dir[PATH_MAX];
	char *argv[] = {"./link", "x", NULL};
	const struct vigil_exec_event *e;
	_cleanup_free_ char *bin = NULL, *cwd = NULL;
	pid_t pid;

	setup();
	snprintf(dir, sizeof(dir), "%s/dir with space", tmpdir);
	ASSERT_OK(mkdir(dir, 0755));
	snprintf(dir, sizeof(dir), "%s/dir with space/\xc3\xbc", tmpdir);
	ASSERT_OK(mkdir(dir, 0755));
	snprintf(link, sizeof(link), "%s/link", dir);
	ASSERT_OK(symlink("/bin/true", link));
	ASSERT_NOT_NULL(realpath(dir, real_dir));

	/* Relative path through a symlink, in a directory with a space and non-ASCII name. */
	pid = spawn(dir, "./link", argv);
	e = wait_event(VIGIL_EV_EXEC, pid);
	ASSERT_NOT_NULL(e);
	ASSERT_EQ(reap(pid), 0);
	bin = exec_binary(e);
	ASSERT_STREQ(bin, true_path);
	cwd = exec_cwd(e);
	ASSERT_STREQ(cwd, real_dir);
	ASSERT_TRUE(exec_args_equal(e, argv));
}

TEST(exec_cwd_crosses_mounts)
{
	char *argv[] = {"true", NULL};
	const struct vigil_exec_event *e;
	_cleanup_free_ char *cwd = NULL;
	pid_t pid;

	setup();
	/* /dev/shm is a tmpfs on devtmpfs on the root fs: two mount crossings. */
	if (!mounted("/dev/shm", "tmpfs"))
		return;
	pid = spawn("/dev/shm", "/bin/true", argv);
	e = wait_event(VIGIL_EV_EXEC, pid);
	ASSERT_NOT_NULL(e);
	ASSERT_EQ(reap(pid), 0);
	cwd = exec_cwd(e);
	ASSERT_STREQ(cwd, "/dev/shm");
}

/* Copy /bin/true into fd (a memfd or a regular file). */
static int copy_true(int fd)
{
	struct stat st;
	off_t off = 0;
	int in = open("/bin/true", O_RDONLY | O_CLOEXEC);

	if (in < 0 || fstat(in, &st) < 0)
		return -1;
	while (off < st.st_size)
		if (sendfile(fd, in, &off, (size_t)(st.st_size - off)) <= 0) {
			close(in);
			return -1;
		}
	close(in);
	return 0;
}

/* Fork a child that execs the file behind fd through /proc/self/fd/N, as fexecve() may. */
static pid_t spawn_fd(int fd, char *const argv[])
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return spawn(NULL, path, argv);
}

/* memfd_create() + exec: no path reaches it; report "memfd:NAME", flagged, not "/". */
TEST(exec_memfd_is_detached)
{
	char *argv[] = {"evil", NULL};
	const struct vigil_exec_event *e;
	_cleanup_free_ char *bin = NULL;
	struct stat st;
	pid_t pid;
	int fd;

	setup();
	fd = memfd_create("evil", 0);
	ASSERT_GE(fd, 0);
	ASSERT_OK(copy_true(fd));
	ASSERT_OK(fstat(fd, &st));
	pid = spawn_fd(fd, argv);
	ASSERT_GE(pid, 0);
	e = wait_event(VIGIL_EV_EXEC, pid);
	ASSERT_NOT_NULL(e);
	ASSERT_EQ(reap(pid), 0);
	close(fd);
	bin = exec_binary(e);
	ASSERT_STREQ(bin, "memfd:evil");
	ASSERT_TRUE(e->flags & VIGIL_EXEC_F_DETACHED_BINARY);
	ASSERT_FALSE(e->flags & (VIGIL_EXEC_F_DELETED_BINARY | VIGIL_EXEC_F_TRUNC_BINARY |
				 VIGIL_EXEC_F_ERROR_BINARY | VIGIL_EXEC_F_DETACHED_CWD));
	ASSERT_EQ(e->exe_ino, st.st_ino);
}

/* Exec from a mount detached with umount -l: no path leads there, so DETACHED and relative. */
TEST(exec_on_detached_mount_is_detached)
{
	char dir[PATH_MAX + 32], file[PATH_MAX + 64];
	char *argv[] = {"detached", NULL};
	const struct vigil_exec_event *e;
	_cleanup_free_ char *bin = NULL;
	pid_t pid;
	int fd, wfd;

	setup();
	snprintf(dir, sizeof(dir), "%s/detach-mnt", tmpdir);
	ASSERT_OK(mkdir(dir, 0700) < 0 ? -errno : 0);
	ASSERT_OK(mount("tmpfs", dir, "tmpfs", 0, "size=8m") < 0 ? -errno : 0);
	snprintf(file, sizeof(file), "%s/true-copy", dir);
	wfd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
	ASSERT_GE(wfd, 0);
	ASSERT_OK(copy_true(wfd));
	close(wfd);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_OK(umount2(dir, MNT_DETACH) < 0 ? -errno : 0);
	pid = spawn_fd(fd, argv);
	ASSERT_GE(pid, 0);
	e = wait_event(VIGIL_EV_EXEC, pid);
	ASSERT_NOT_NULL(e);
	ASSERT_EQ(reap(pid), 0);
	close(fd);
	(void)rmdir(dir);
	bin = exec_binary(e);
	ASSERT_STREQ(bin, "true-copy");
	ASSERT_TRUE(e->flags & VIGIL_EXEC_F_DETACHED_BINARY);
}

/* Exec of an unlinked binary, and from a removed cwd: the old path plus a DELETED flag. */
TEST(exec_deleted_binary_and_cwd)
{
	char file[PATH_MAX + 32], dir[PATH_MAX + 32], real_tmp[PATH_MAX];
	char *argv[] = {"deleted", NULL};
	const struct vigil_exec_event *e;
	_cleanup_free_ char *bin = NULL, *cwd = NULL;
	int fd, wfd, fds[2];
	pid_t pid;
	char b;

	setup();
	ASSERT_NOT_NULL(realpath(tmpdir, real_tmp));
	snprintf(file, sizeof(file), "%s/deleted-true", real_tmp);
	wfd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	ASSERT_GE(wfd, 0);
	ASSERT_OK(copy_true(wfd));
	ASSERT_OK(close(wfd)); /* no writer left, or exec fails with ETXTBSY */
	fd = open(file, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_OK(unlink(file));

	/* The child removes its own cwd, then execs the unlinked file. */
	snprintf(dir, sizeof(dir), "%s/gone-dir", real_tmp);
	ASSERT_OK(mkdir(dir, 0755));
	ASSERT_OK(pipe(fds));
	pid = fork();
	if (pid == 0) {
		char path[64], *envp[] = {NULL};

		close(fds[1]);
		if (chdir(dir) < 0 || rmdir(dir) < 0)
			_exit(126);
		(void)!read(fds[0], &b, 1);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		execve(path, argv, envp);
		_exit(127);
	}
	ASSERT_GE(pid, 0);
	track(pid);
	close(fds[0]);
	close(fds[1]);
	e = wait_event(VIGIL_EV_EXEC, pid);
	ASSERT_NOT_NULL(e);
	ASSERT_EQ(reap(pid), 0);
	close(fd);
	bin = exec_binary(e);
	ASSERT_STREQ(bin, file);
	cwd = exec_cwd(e);
	ASSERT_STREQ(cwd, dir);
	ASSERT_TRUE(e->flags & VIGIL_EXEC_F_DELETED_BINARY);
	ASSERT_TRUE(e->flags & VIGIL_EXEC_F_DELETED_CWD);
	ASSERT_FALSE(e->flags & (VIGIL_EXEC_F_DETACHED_BINARY | VIGIL_EXEC_F_DETACHED_CWD));
}

/* The cgroup2 mount point, from /proc/self/mountinfo (never hard-coded). */
static bool cgroup2_mount(char *buf, size_t size)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char m[1024], type[64];
		const char *sep = strstr(line, " - ");

		found = sscanf(line, "%*s %*s %*s %*s %1023s", m) == 1 && sep &&
			sscanf(sep + 3, "%63s", type) == 1 && streq(type, "cgroup2");
		if (found)
			snprintf(buf, size, "%s", m);
	}
	fclose(f);
	return found;
}

/* clone3(CLONE_INTO_CGROUP): the clone event carries the child's cgroup, not the parent's. */
TEST(clone_into_cgroup_reports_child_cgroup)
{
	struct clone_args args = {.flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD};
	const struct vigil_clone_event *c;
	char mnt[1024], dir[1200];
	struct stat st;
	long pid;
	int cfd;

	setup();
	if (!cgroup2_mount(mnt, sizeof(mnt))) {
		printf("# no cgroup2 mount, skipping\n");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/vigil-test-%d", mnt, (int)getpid());
	ASSERT_OK(mkdir(dir, 0755));
	ASSERT_OK(stat(dir, &st));
	cfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(cfd, 0);
	args.cgroup = (uint64_t)cfd;
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		_exit(0);
	if (pid < 0 && (errno == ENOSYS || errno == E2BIG)) {
		printf("# clone3(CLONE_INTO_CGROUP) unsupported (%m), skipping\n");
		close(cfd);
		(void)rmdir(dir);
		return;
	}
	ASSERT_GE(pid, 1);
	track((pid_t)pid);
	c = wait_event(VIGIL_EV_CLONE, (pid_t)pid);
	ASSERT_EQ(reap((pid_t)pid), 0);
	close(cfd);
	ASSERT_OK(rmdir(dir));
	ASSERT_NOT_NULL(c);
	ASSERT_NE(own_cgroup_id(), st.st_ino);
	ASSERT_EQ(c->hdr.cgroup_id, st.st_ino);
}

TEST(exit_status_and_signal)
{
	const struct vigil_exit_event *x;
	pid_t p0, p3, pk;
	int s;

	setup();
	p0 = fork();
	if (p0 == 0)
		_exit(0);
	track(p0);
	p3 = fork();
	if (p3 == 0)
		_exit(3);
	track(p3);
	pk = fork();
	if (pk == 0) {
		for (;;)
			pause();
	}
	track(pk);
	ASSERT_GE(p0, 0);
	ASSERT_GE(p3, 0);
	ASSERT_GE(pk, 0);

	s = reap(p0);
	ASSERT_TRUE(WIFEXITED(s) && WEXITSTATUS(s) == 0);
	x = wait_event(VIGIL_EV_EXIT, p0);
	ASSERT_NOT_NULL(x);
	ASSERT_EQ(x->exit_code, s);
	ASSERT_EQ(x->ppid, getpid());
	ASSERT_EQ(x->hdr.pid, p0);

	s = reap(p3);
	ASSERT_TRUE(WIFEXITED(s) && WEXITSTATUS(s) == 3);
	x = wait_event(VIGIL_EV_EXIT, p3);
	ASSERT_NOT_NULL(x);
	ASSERT_EQ(x->exit_code, s);
	ASSERT_EQ(x->exit_code, 3 << 8);

	ASSERT_NOT_NULL(wait_event(VIGIL_EV_CLONE, pk));
	ASSERT_OK(kill(pk, SIGKILL));
	s = reap(pk);
	ASSERT_TRUE(WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL);
	x = wait_event(VIGIL_EV_EXIT, pk);
	ASSERT_NOT_NULL(x);
	ASSERT_EQ(x->exit_code, s);
	ASSERT_EQ(x->exit_code & 0x7f, SIGKILL);
	ASSERT_EQ(count_events(VIGIL_EV_EXIT, pk), 1);
}

TEST(fork_without_exec)
{
	const struct vigil_clone_event *c;
	const struct vigil_exit_event *x;
	int fds[2];
	pid_t pid;
	char b;

	setup();
	ASSERT_OK(pipe(fds));
	pid = fork();
	if (pid == 0) {
		close(fds[1]);
		(void)!read(fds[0], &b, 1); /* wait until the parent has read our stat */
		_exit(0);
	}
	ASSERT_GE(pid, 0);
	track(pid);
	close(fds[0]);
	c = wait_event(VIGIL_EV_CLONE, pid);
	ASSERT_NOT_NULL(c);
	ASSERT_EQ(c->hdr.pid, pid);
	ASSERT_EQ(c->ppid, getpid());
	ASSERT_EQ(c->creds.euid, geteuid());
	ASSERT_EQ(c->creds.egid, getegid());
	ASSERT_EQ(c->hdr.cgroup_id, own_cgroup_id());
	ASSERT_EQ(ns_to_ticks(c->start_boottime), proc_starttime(pid));
	ASSERT_EQ(ns_to_ticks(c->parent_start_boottime), proc_starttime(getpid()));
	ASSERT_EQ(c->flags, 0);
	close(fds[1]);
	ASSERT_EQ(reap(pid), 0);
	x = wait_event(VIGIL_EV_EXIT, pid);
	ASSERT_NOT_NULL(x);
	ASSERT_EQ(x->start_boottime, c->start_boottime);
	drain();
	ASSERT_EQ(count_events(VIGIL_EV_EXEC, pid), 0);
	ASSERT_EQ(count_events(VIGIL_EV_CLONE, pid), 1);
}

static int thread_pipe;

static void *thread_main(void *arg)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	long exit_code = (long)arg;

	(void)!write(thread_pipe, &tid, sizeof(tid));
	if (exit_code > 0)
		exit((int)exit_code); /* exit_group() from a non-leader thread */
	return NULL;
}

/* Child: N threads that finish, then one that calls exit(7) while the others are blocked. */
static void threaded_child(int wfd)
{
	pthread_t t[4];

	thread_pipe = wfd;
	for (int i = 0; i < 3; i++)
		if (pthread_create(&t[i], NULL, thread_main, NULL) != 0)
			_exit(100);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	if (pthread_create(&t[3], NULL, thread_main, (void *)7L) != 0)
		_exit(101);
	for (;;)
		pause();
}

TEST(threads_are_not_processes)
{
	const struct vigil_exit_event *x;
	pid_t pid, tids[4];
	int fds[2], s;

	setup();
	ASSERT_OK(pipe(fds));
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		threaded_child(fds[1]);
	}
	ASSERT_GE(pid, 0);
	track(pid);
	close(fds[1]);
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(read(fds[0], &tids[i], sizeof(tids[i])), sizeof(tids[i]));
		ASSERT_NE(tids[i], pid);
		track(tids[i]);
	}
	close(fds[0]);
	s = reap(pid);
	ASSERT_TRUE(WIFEXITED(s) && WEXITSTATUS(s) == 7);
	x = wait_event(VIGIL_EV_EXIT, pid);
	ASSERT_NOT_NULL(x);
	ASSERT_EQ(x->exit_code, s);
	drain();
	ASSERT_EQ(count_events(VIGIL_EV_EXIT, pid), 1);
	ASSERT_EQ(count_events(VIGIL_EV_CLONE, pid), 1);
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(count_events(VIGIL_EV_CLONE, tids[i]), 0);
		ASSERT_EQ(count_events(VIGIL_EV_EXIT, tids[i]), 0);
	}
}

static void *exec_thread(void *arg)
{
	char *argv[] = {"true", "from-thread", NULL};
	char *envp[] = {NULL};
	pid_t tid = (pid_t)syscall(SYS_gettid);

	(void)!write(thread_pipe, &tid, sizeof(tid));
	execve("/bin/true", argv, envp);
	_exit(127);
}

TEST(exec_from_thread_reports_old_pid)
{
	const struct vigil_exec_event *e;
	pthread_t t;
	pid_t pid, tid;
	int fds[2];

	setup();
	ASSERT_OK(pipe(fds));
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		thread_pipe = fds[1];
		if (pthread_create(&t, NULL, exec_thread, NULL) != 0)
			_exit(100);
		for (;;)
			pause();
	}
	ASSERT_GE(pid, 0);
	track(pid);
	close(fds[1]);
	ASSERT_EQ(read(fds[0], &tid, sizeof(tid)), sizeof(tid));
	close(fds[0]);
	ASSERT_EQ(reap(pid), 0);
	e = wait_event(VIGIL_EV_EXEC, pid);
	ASSERT_NOT_NULL(e);
	/* After de_thread() the exec'ing thread takes over the leader's pid. */
	ASSERT_EQ(e->hdr.pid, pid);
	ASSERT_EQ(e->old_pid, tid);
	ASSERT_NE(tid, pid);
}

TEST(samples_are_well_formed)
{
	setup();
	drain();
	ASSERT_GE(total_samples, 1);
	ASSERT_EQ(bad_samples, 0);
}

TEST(drops_are_counted)
{
	struct bpf_loader_options o = {.ringbuf_size = (uint32_t)sysconf(_SC_PAGESIZE),
				       .argv_max = VIGIL_ARGS_MAX};
	_cleanup_(bpf_loader_freep) struct bpf_loader *small = NULL;
	_cleanup_free_ char *big = malloc(VIGIL_ARGS_MAX);
	char *argv[] = {"true", big, NULL};
	uint64_t drops[VIGIL_DROP_SLOTS] = {};
	pid_t pid;

	setup();
	ASSERT_NOT_NULL(big);
	ASSERT_OK(bpf_loader_drops(loader, drops));
	/* An exec event with 32 KiB of argv can never fit a one-page ring buffer. */
	ASSERT_OK(bpf_loader_new(&o, on_sample, NULL, &small));
	memset(big, 'B', VIGIL_ARGS_MAX - 1);
	big[VIGIL_ARGS_MAX - 1] = '\0';
	pid = spawn(NULL, "/bin/true", argv);
	ASSERT_GE(pid, 0);
	ASSERT_EQ(reap(pid), 0);
	ASSERT_OK(bpf_loader_drops(small, drops));
	ASSERT_GE(drops[VIGIL_EV_EXEC], 1);
	/* The main loader, with room to spare, still got the event. */
	ASSERT_NOT_NULL(wait_event(VIGIL_EV_EXEC, pid));
}

TEST(fs_mounts)
{
	int r = bpf_ensure_fs_mounts();

	ASSERT_OK(r);
	ASSERT_TRUE(mounted("/sys/kernel/tracing", "tracefs"));
	ASSERT_TRUE(mounted("/sys/fs/bpf", "bpf"));
	/* A second call finds both and does nothing. */
	ASSERT_EQ(bpf_ensure_fs_mounts(), 0);
}

TEST(detach_stops_events)
{
	char *argv[] = {"true", NULL};
	pid_t pid;

	setup();
	drain();
	bpf_loader_detach(loader);
	pid = spawn(NULL, "/bin/true", argv);
	ASSERT_GE(pid, 0);
	ASSERT_EQ(reap(pid), 0);
	/* The exit event would be in the ring before waitpid() returned, had we been attached. */
	ASSERT_OK(bpf_loader_consume(loader));
	ASSERT_EQ(count_events(VIGIL_EV_EXEC, pid), 0);
	ASSERT_EQ(count_events(VIGIL_EV_EXIT, pid), 0);
	ASSERT_EQ(count_events(VIGIL_EV_CLONE, pid), 0);
	loader = bpf_loader_free(loader);
	ASSERT_NULL(loader);
}

static void cleanup_tmpdir(void)
{
	char cmd[PATH_MAX + 32];

	if (tmpdir[0] && strncmp(tmpdir, "/tmp/vigil-bpf-", 15) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		(void)!system(cmd);
	}
}

int main(void)
{
	int r;

	if (geteuid() != 0)
		tap_skip_all("needs root to load BPF programs");
	if (getenv("VIGIL_SKIP_ROOT_TESTS"))
		tap_skip_all("VIGIL_SKIP_ROOT_TESTS is set");
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0)
		tap_skip_all("kernel has no BTF (/sys/kernel/btf/vmlinux)");
	log_setup();
	if (getenv("VIGIL_TEST_DEBUG"))
		log_set_max_level(LOG_DEBUG);
	r = tap_run();
	cleanup_tmpdir();
	return r;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Root-only integration test of the per process policy state (pol_procs, bpf/policy.h) kept by
 * the base sensor's exec/fork/exit programs (bpf/proc.bpf.c): matchBinaries bits set at exec
 * (Equal, Prefix, Postfix), followChildren across fork and exec, matchPIDs followForks bits set
 * at fork, and deletion at exit. Only the three proc.bpf.c programs are loaded and attached.
 *
 * Processes are held still while their entry is read: a traced child stops right after its
 * execve() (PTRACE_TRACEME: SIGTRAP once the new image is in place, after sched_process_exec),
 * and long-running children are copies of sleep(1).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf/events.h"
#include "bpf/policy.h"
#include "bpf/vigil.skel.h"
#include "tap.h"
#include "util/macro.h"

/* Bits of the binary sets under test (pol_bin_sets index). */
enum {
	BIT_EQ_TRUE = 0,    /* Equal /usr/bin/true */
	BIT_PFX_USRBIN = 1, /* Prefix /usr/bin/, followChildren */
	BIT_SFX_TRUE = 2,   /* Postfix /true */
	BIT_EQ_FALSE = 3,   /* Equal /usr/bin/false, followChildren: never matches here */
	BIT_EQ_SH = 4,	    /* Equal realpath(/bin/sh) */
	BIT_INACTIVE = 5,   /* Prefix / but inactive */
};

/* max_entries of the inner string tries (VIGIL_POL_STR_SET_ENTRIES in bpf/maps.bpf.h) */
#define STR_SET_ENTRIES 4096

#define PIDSET_SELF  900 /* pol_int_sets id holding this test's pid */
#define PIDSET_NS1   901 /* holding 1 (ns pid) */
#define PIDSET_OTHER 902 /* holding a pid that forks nothing */

static struct vigil_bpf *skel;
static char tmpdir[64];
static char sh_path[PATH_MAX];
static char copy_true[PATH_MAX];  /* tmpdir/true: a copy of sleep(1) */
static char copy_other[PATH_MAX]; /* tmpdir/other: a copy of sleep(1) */

/* Children (and process groups) to kill when the run ends, even after a failed assertion. */
static pid_t kill_at_end[64];
static size_t n_kill_at_end;

static void kill_later(pid_t pid)
{
	if (pid != 0 && n_kill_at_end < ELEMENTSOF(kill_at_end))
		kill_at_end[n_kill_at_end++] = pid;
}

static int copy_file(const char *from, const char *to)
{
	struct stat st;
	int in, out, r = 0;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0 || fstat(in, &st) < 0 ||
	    sendfile(out, in, NULL, (size_t)st.st_size) != st.st_size)
		r = -EIO;
	close(in);
	if (out >= 0)
		close(out);
	return r;
}

/* One string set (an inner LPM trie) holding `value` stored for `op`, at pol_str_sets[idx]. */
static void add_str_set(uint32_t idx, uint8_t op, const char *value)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	struct vigil_pol_str_key key = {};
	size_t len = strlen(value);
	uint8_t one = 1;
	int fd;

	ASSERT_TRUE(len < VIGIL_POL_STR_MAX);
	if (op == VIGIL_OP_POSTFIX)
		for (size_t i = 0; i < len; i++)
			key.data[i] = (uint8_t)value[len - 1 - i];
	else
		memcpy(key.data, value, len);
	key.prefixlen = 8 * (uint32_t)(op == VIGIL_OP_EQUAL ? len + 1 : len);
	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "t_str", sizeof(key), 1, STR_SET_ENTRIES, &o);
	ASSERT_OK(fd);
	ASSERT_OK(bpf_map_update_elem(fd, &key, &one, BPF_ANY));
	ASSERT_OK(bpf_map__update_elem(skel->maps.pol_str_sets, &idx, sizeof(idx), &fd, sizeof(fd),
				       BPF_ANY));
	close(fd); /* the outer map holds a reference */
}

/* Raise pol_set_bounds so exec/fork look at sets up to bit, as the daemon's installer does. */
static void bounds_cover(uint32_t bin_bit, uint32_t pid_bit)
{
	struct vigil_pol_set_bounds b = {};
	uint32_t zero = 0;

	ASSERT_OK(bpf_map__lookup_elem(skel->maps.pol_set_bounds, &zero, sizeof(zero), &b,
				       sizeof(b), 0));
	if (bin_bit != UINT32_MAX && b.bin_hi < bin_bit + 1)
		b.bin_hi = bin_bit + 1;
	if (pid_bit != UINT32_MAX && b.pid_hi < pid_bit + 1)
		b.pid_hi = pid_bit + 1;
	ASSERT_OK(bpf_map__update_elem(skel->maps.pol_set_bounds, &zero, sizeof(zero), &b,
				       sizeof(b), BPF_ANY));
}

static void add_bin_set(uint32_t bit, uint8_t op, bool follow, bool active, const char *value)
{
	struct vigil_pol_bin_set set = {
		.op = op, .follow = follow, .active = active, .str_set = 10 + bit};

	add_str_set(set.str_set, op, value);
	ASSERT_OK(bpf_map__update_elem(skel->maps.pol_bin_sets, &bit, sizeof(bit), &set,
				       sizeof(set), BPF_ANY));
	bounds_cover(bit, UINT32_MAX);
}

static void add_int(uint32_t set_id, uint64_t value)
{
	struct vigil_pol_int_key key = {.set_id = set_id, .value = value};
	uint8_t one = 1;

	ASSERT_OK(bpf_map__update_elem(skel->maps.pol_int_sets, &key, sizeof(key), &one,
				       sizeof(one), BPF_ANY));
}

static void set_pid_set(uint32_t bit, uint32_t int_set, bool ns_pid, bool active)
{
	struct vigil_pol_pid_set set = {.int_set = int_set, .active = active, .ns_pid = ns_pid};

	ASSERT_OK(bpf_map__update_elem(skel->maps.pol_pid_sets, &bit, sizeof(bit), &set,
				       sizeof(set), BPF_ANY));
	bounds_cover(UINT32_MAX, bit);
}

/* 0 and *ret filled, or -ENOENT. */
static int proc_state(pid_t pid, struct vigil_pol_proc *ret)
{
	uint32_t key = (uint32_t)pid;

	return bpf_map__lookup_elem(skel->maps.pol_procs, &key, sizeof(key), ret, sizeof(*ret), 0);
}

static void setup(void)
{
	int ncpus;

	if (skel)
		return;
	ASSERT_NOT_NULL(realpath("/bin/sh", sh_path));
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vigil-polproc-XXXXXX");
	ASSERT_NOT_NULL(mkdtemp(tmpdir));
	snprintf(copy_true, sizeof(copy_true), "%s/true", tmpdir);
	snprintf(copy_other, sizeof(copy_other), "%s/other", tmpdir);
	ASSERT_OK(copy_file("/usr/bin/sleep", copy_true));
	ASSERT_OK(copy_file("/usr/bin/sleep", copy_other));

	skel = vigil_bpf__open();
	ASSERT_NOT_NULL(skel);
	ncpus = libbpf_num_possible_cpus();
	ASSERT_GE(ncpus, 1);
	ASSERT_OK(bpf_map__set_max_entries(skel->maps.scratch, (uint32_t)ncpus));
	ASSERT_OK(bpf_map__set_max_entries(skel->maps.pol_scratch, (uint32_t)ncpus));
	ASSERT_OK(bpf_map__set_max_entries(skel->maps.events, 1 << 20));
	/* Only the base sensor: the policy engine's programs are tested elsewhere. */
	{
		struct bpf_program *prog;

		bpf_object__for_each_program(prog, skel->obj)
			bpf_program__set_autoload(prog, false);
	}
	bpf_program__set_autoload(skel->progs.handle_exec, true);
	bpf_program__set_autoload(skel->progs.handle_exit, true);
	bpf_program__set_autoload(skel->progs.handle_fork, true);
	ASSERT_OK(vigil_bpf__load(skel));
	ASSERT_NOT_NULL(skel->links.handle_exec = bpf_program__attach(skel->progs.handle_exec));
	ASSERT_NOT_NULL(skel->links.handle_exit = bpf_program__attach(skel->progs.handle_exit));
	ASSERT_NOT_NULL(skel->links.handle_fork = bpf_program__attach(skel->progs.handle_fork));

	add_bin_set(BIT_EQ_TRUE, VIGIL_OP_EQUAL, false, true, "/usr/bin/true");
	add_bin_set(BIT_PFX_USRBIN, VIGIL_OP_PREFIX, true, true, "/usr/bin/");
	add_bin_set(BIT_SFX_TRUE, VIGIL_OP_POSTFIX, false, true, "/true");
	add_bin_set(BIT_EQ_FALSE, VIGIL_OP_EQUAL, true, true, "/usr/bin/false");
	add_bin_set(BIT_EQ_SH, VIGIL_OP_EQUAL, false, true, sh_path);
	add_bin_set(BIT_INACTIVE, VIGIL_OP_PREFIX, false, false, "/");

	add_int(PIDSET_SELF, (uint64_t)getpid());
	add_int(PIDSET_NS1, 1);
	add_int(PIDSET_OTHER, 1u << 30); /* above pid_max: nobody */
	set_pid_set(0, PIDSET_OTHER, false, true);
	set_pid_set(1, PIDSET_SELF, false, true);
	set_pid_set(2, PIDSET_NS1, true, true);
	set_pid_set(3, PIDSET_SELF, false, false); /* inactive */
}

/* Fork a child that stops right after execve(path) succeeded (it is our tracee). */
static pid_t spawn_stopped(const char *path, char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		char *envp[] = {NULL};

		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(126);
		execve(path, argv, envp);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	kill_later(pid);
	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP) {
		printf("# child %d did not stop after exec (status %#x)\n", (int)pid, status);
		return -1;
	}
	return pid;
}

static void kill_and_reap(pid_t pid)
{
	int status;

	ASSERT_OK(kill(pid, SIGKILL));
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFSIGNALED(status));
}

#define B(bit) (1ULL << (bit))

/*
 * /usr/bin/true is in the Equal, Prefix and Postfix sets and not in the others; this test's pid
 * is in pid set 1, so its child has pid bit 1. The entry goes away when the process exits.
 */
TEST(exec_sets_binary_bits)
{
	char *argv[] = {"true", NULL};
	struct vigil_pol_proc st;
	pid_t pid;

	setup();
	pid = spawn_stopped("/usr/bin/true", argv);
	ASSERT_GE(pid, 1);
	ASSERT_OK(proc_state(pid, &st));
	ASSERT_EQ(st.bin_bits, B(BIT_EQ_TRUE) | B(BIT_PFX_USRBIN) | B(BIT_SFX_TRUE));
	ASSERT_EQ(st.pid_bits, B(1));
	ASSERT_NE(st.start_boottime, 0);
	kill_and_reap(pid);
	ASSERT_EQ(proc_state(pid, &st), -ENOENT);
}

/* A binary named "true" outside /usr/bin: only the Postfix set; Equal needs the whole path. */
TEST(exec_postfix_only)
{
	char *argv[] = {"true", "1000", NULL};
	struct vigil_pol_proc st;
	pid_t pid;

	setup();
	pid = spawn_stopped(copy_true, argv);
	ASSERT_GE(pid, 1);
	ASSERT_OK(proc_state(pid, &st));
	ASSERT_EQ(st.bin_bits, B(BIT_SFX_TRUE));
	kill_and_reap(pid);
	ASSERT_EQ(proc_state(pid, &st), -ENOENT);
}

/* No binary set matches and no pid set either: no entry at all (the map stays small). */
TEST(no_match_no_entry)
{
	char *argv[] = {"other", "1000", NULL};
	struct vigil_pol_proc st;
	pid_t pid;

	setup();
	set_pid_set(1, PIDSET_SELF, false, false);
	pid = spawn_stopped(copy_other, argv);
	set_pid_set(1, PIDSET_SELF, false, true);
	ASSERT_GE(pid, 1);
	ASSERT_EQ(proc_state(pid, &st), -ENOENT);
	kill_and_reap(pid);

	/* The same binary with the pid set active: an entry with only the pid bit. */
	pid = spawn_stopped(copy_other, argv);
	ASSERT_GE(pid, 1);
	ASSERT_OK(proc_state(pid, &st));
	ASSERT_EQ(st.bin_bits, 0);
	ASSERT_EQ(st.pid_bits, B(1));
	kill_and_reap(pid);
}

/* Read "PID\n" lines from fd until n pids were read. */
static int read_pids(int fd, pid_t *pids, int n)
{
	char buf[256];
	size_t len = 0;
	int got = 0;

	while (got < n) {
		ssize_t k = read(fd, buf + len, sizeof(buf) - 1 - len);
		char *nl;

		if (k <= 0)
			return -1;
		len += (size_t)k;
		buf[len] = '\0';
		while (got < n && (nl = strchr(buf, '\n'))) {
			*nl = '\0';
			pids[got++] = atoi(buf);
			memmove(buf, nl + 1, len - (size_t)(nl + 1 - buf) + 1);
			len = strlen(buf);
		}
	}
	return got;
}

/*
 * Wait until pid sleeps in clock_nanosleep(): the copy of sleep(1) runs, so its exec (and the
 * sched_process_exec program) is complete. /proc/PID/exe alone changes earlier in the exec.
 */
static bool wait_sleeping(pid_t pid)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(path, "re");
		bool ok = false;

		if (f) {
			ok = fgets(buf, sizeof(buf), f) && atoi(buf) == SYS_clock_nanosleep;
			fclose(f);
		}
		if (ok)
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * sh (Equal, not followed; under /usr/bin: Prefix, followed) starts a subshell (fork only: same
 * image, so the same bits) and a copy of sleep named "true" outside /usr/bin (exec: the followed
 * Prefix bit stays, the unfollowed Equal-sh bit goes, Postfix /true is added). The pid bit of
 * this test's child is inherited by grandchildren (followForks).
 */
TEST(follow_children_across_fork_and_exec)
{
	char script[256];
	struct vigil_pol_proc st;
	pid_t sh, pids[2];
	int p[2];

	setup();
	ASSERT_TRUE(strlen(copy_true) < 100);
	snprintf(script, sizeof(script), "%s 1000 & echo $!; (%s 1000; :) & echo $!; wait",
		 copy_true, copy_true);
	ASSERT_OK(pipe2(p, O_CLOEXEC));
	sh = fork();
	ASSERT_GE(sh, 0);
	if (sh == 0) {
		char *argv[] = {"sh", "-c", script, NULL};

		setpgid(0, 0);
		if (dup2(p[1], 1) < 0)
			_exit(126);
		execv("/bin/sh", argv);
		_exit(127);
	}
	close(p[1]);
	setpgid(sh, sh);
	kill_later(-sh);
	ASSERT_EQ(read_pids(p[0], pids, 2), 2);
	close(p[0]);
	ASSERT_TRUE(wait_sleeping(pids[0]));

	ASSERT_OK(proc_state(sh, &st));
	ASSERT_EQ(st.bin_bits, B(BIT_PFX_USRBIN) | B(BIT_EQ_SH));
	ASSERT_EQ(st.pid_bits, B(1));
	/* The subshell: forked, never exec'd. */
	ASSERT_OK(proc_state(pids[1], &st));
	ASSERT_EQ(st.bin_bits, B(BIT_PFX_USRBIN) | B(BIT_EQ_SH));
	ASSERT_EQ(st.pid_bits, B(1));
	/* The exec'd grandchild. */
	ASSERT_OK(proc_state(pids[0], &st));
	ASSERT_EQ(st.bin_bits, B(BIT_PFX_USRBIN) | B(BIT_SFX_TRUE));
	ASSERT_EQ(st.pid_bits, B(1));

	ASSERT_OK(kill(-sh, SIGKILL));
	ASSERT_EQ(waitpid(sh, NULL, 0), sh);
	/* sh is gone; its children were reparented and die too: their entries go at exit. */
	for (int i = 0;
	     i < 1000 && (proc_state(pids[0], &st) == 0 || proc_state(pids[1], &st) == 0); i++)
		usleep(10000);
	ASSERT_EQ(proc_state(sh, &st), -ENOENT);
	ASSERT_EQ(proc_state(pids[0], &st), -ENOENT);
	ASSERT_EQ(proc_state(pids[1], &st), -ENOENT);
}

/*
 * isNamespacePID: in a new pid namespace, the first process is pid 1 there; the pid set {1}
 * with ns_pid marks its children, not the host's init's (which forks nothing here).
 */
TEST(follow_forks_namespace_pid)
{
	struct vigil_pol_proc st;
	pid_t outer, inner;
	int p[2], status;

	setup();
	ASSERT_OK(pipe2(p, O_CLOEXEC));
	outer = fork();
	ASSERT_GE(outer, 0);
	if (outer == 0) {
		pid_t leader;

		if (unshare(CLONE_NEWPID) < 0)
			_exit(126);
		leader = fork(); /* pid 1 in the new namespace */
		if (leader == 0) {
			pid_t child = fork();

			if (child == 0) {
				pause();
				_exit(0);
			}
			/* The child's pid in the new namespace (2). */
			if (write(p[1], &child, sizeof(child)) != sizeof(child))
				_exit(125);
			pause();
			_exit(0);
		}
		if (write(p[1], &leader, sizeof(leader)) != sizeof(leader))
			_exit(125);
		waitpid(leader, NULL, 0);
		_exit(0);
	}
	close(p[1]);
	kill_later(outer);
	ASSERT_EQ(read(p[0], &inner, sizeof(inner)), (ssize_t)sizeof(inner));
	kill_later(inner);
	{
		pid_t ns_child;
		struct vigil_pol_proc lst;

		ASSERT_EQ(read(p[0], &ns_child, sizeof(ns_child)), (ssize_t)sizeof(ns_child));
		/* inner is the leader's host pid; ns_child is its child's pid in the new ns (2). */
		ASSERT_EQ(ns_child, 2);
		ASSERT_OK(proc_state(inner, &lst));
		/* The leader: forked by outer (this test's child: pid bit 1 inherited). */
		ASSERT_EQ(lst.pid_bits, B(1));
	}
	close(p[0]);
	/* Find the leader's child through its children file. */
	{
		char path[96], buf[64];
		pid_t gc = 0;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)inner, (int)inner);
		for (int i = 0; i < 500 && !gc; i++) {
			f = fopen(path, "re");
			if (f) {
				if (fgets(buf, sizeof(buf), f))
					gc = atoi(buf);
				fclose(f);
			}
			if (!gc)
				usleep(10000);
		}
		ASSERT_GE(gc, 1);
		ASSERT_OK(proc_state(gc, &st));
		ASSERT_EQ(st.pid_bits, B(1) | B(2));
		ASSERT_EQ(st.bin_bits, 0);
	}
	ASSERT_OK(kill(outer, SIGKILL));
	ASSERT_OK(kill(inner, SIGKILL)); /* pid 1 of the namespace: the namespace dies with it */
	ASSERT_EQ(waitpid(outer, &status, 0), outer);
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
	r = tap_run();
	for (size_t i = 0; i < n_kill_at_end; i++)
		(void)kill(kill_at_end[i], SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
	vigil_bpf__destroy(skel);
	if (tmpdir[0]) {
		unlink(copy_true);
		unlink(copy_other);
		rmdir(tmpdir);
	}
	return r;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "util/macro.h"
#include "tap.h"

#define ID_A  "3f2a5c0e9d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29"
#define ID_B  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID_D "7b8e9f10-1a2b-4c3d-9e8f-0a1b2c3d4e5f"
#define UID_U "7b8e9f10_1a2b_4c3d_9e8f_0a1b2c3d4e5f"

struct cgcase {
	const char *path;
	const char *unit, *user_unit, *slice, *id, *runtime, *pod;
};

static const struct cgcase cases[] = {
	{"/", NULL, NULL, NULL, NULL, NULL, NULL},
	{"/init.scope", "init.scope", NULL, NULL, NULL, NULL, NULL},
	{"/system.slice/nginx.service", "nginx.service", NULL, "system.slice", NULL, NULL, NULL},
	{"/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service", NULL,
	 "system-getty.slice", NULL, NULL, NULL},
	/* delegated subtree below a service */
	{"/system.slice/foo.service/payload/worker", "foo.service", NULL, "system.slice", NULL,
	 NULL, NULL},
	{"/user.slice/user-1000.slice/session-3.scope", "session-3.scope", NULL, "user-1000.slice",
	 NULL, NULL, NULL},
	{"/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "user@1000.service",
	 "foo.service", "user-1000.slice", NULL, NULL, NULL},
	{"/user.slice/user-1000.slice/user@1000.service/init.scope", "user@1000.service",
	 "init.scope", "user-1000.slice", NULL, NULL, NULL},
	{"/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-1234.scope",
	 "user@1000.service", "app-gnome-firefox-1234.scope", "user-1000.slice", NULL, NULL, NULL},
	/* docker, systemd cgroup driver and cgroupfs driver */
	{"/system.slice/docker-" ID_A ".scope", "docker-" ID_A ".scope", NULL, "system.slice", ID_A,
	 "docker", NULL},
	{"/docker/" ID_A, NULL, NULL, NULL, ID_A, "docker", NULL},
	{"/system.slice/docker.service", "docker.service", NULL, "system.slice", NULL, NULL, NULL},
	/* containerd CRI, systemd driver */
	{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_U
	 ".slice/cri-containerd-" ID_A ".scope",
	 "cri-containerd-" ID_A ".scope", NULL, "kubepods-besteffort-pod" UID_U ".slice", ID_A,
	 "containerd", UID_D},
	{"/kubepods.slice/kubepods-pod" UID_U ".slice/cri-containerd-" ID_B ".scope",
	 "cri-containerd-" ID_B ".scope", NULL, "kubepods-pod" UID_U ".slice", ID_B, "containerd",
	 UID_D},
	/* kubelet cgroupfs driver */
	{"/kubepods/burstable/pod" UID_D "/" ID_A, NULL, NULL, NULL, ID_A, "containerd", UID_D},
	{"/kubepods/pod" UID_D "/" ID_B, NULL, NULL, NULL, ID_B, "containerd", UID_D},
	/* pod-level cgroup, no container */
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_U ".slice", NULL,
	 NULL, "kubepods-burstable-pod" UID_U ".slice", NULL, NULL, UID_D},
	/* static pod: uid is a 32-hex config hash */
	{"/kubepods.slice/kubepods-burstable.slice/"
	 "kubepods-burstable-pod0f8a4c0a3e3b6f4e5c1d2a3b4c5d6e7f.slice/cri-containerd-" ID_A
	 ".scope",
	 "cri-containerd-" ID_A ".scope", NULL,
	 "kubepods-burstable-pod0f8a4c0a3e3b6f4e5c1d2a3b4c5d6e7f.slice", ID_A, "containerd",
	 "0f8a4c0a3e3b6f4e5c1d2a3b4c5d6e7f"},
	/* CRI-O; its conmon scope is not a container */
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_U ".slice/crio-" ID_A
	 ".scope",
	 "crio-" ID_A ".scope", NULL, "kubepods-burstable-pod" UID_U ".slice", ID_A, "cri-o",
	 UID_D},
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_U
	 ".slice/crio-conmon-" ID_A ".scope",
	 "crio-conmon-" ID_A ".scope", NULL, "kubepods-burstable-pod" UID_U ".slice", NULL, NULL,
	 UID_D},
	{"/kubepods/besteffort/pod" UID_D "/crio-" ID_B, NULL, NULL, NULL, ID_B, "cri-o", UID_D},
	/* podman rootful and rootless; conmon is not a container */
	{"/machine.slice/libpod-" ID_A ".scope", "libpod-" ID_A ".scope", NULL, "machine.slice",
	 ID_A, "podman", NULL},
	{"/machine.slice/libpod-" ID_A ".scope/container", "libpod-" ID_A ".scope", NULL,
	 "machine.slice", ID_A, "podman", NULL},
	{"/machine.slice/libpod-conmon-" ID_A ".scope", "libpod-conmon-" ID_A ".scope", NULL,
	 "machine.slice", NULL, NULL, NULL},
	{"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID_B ".scope",
	 "user@1000.service", "libpod-" ID_B ".scope", "user-1000.slice", ID_B, "podman", NULL},
	{"/libpod_parent/libpod-" ID_A, NULL, NULL, NULL, ID_A, "podman", NULL},
	/* k3s-style "slice:runtime:id" component below containerd.service */
	{"/system.slice/containerd.service/kubepods-besteffort-pod" UID_U
	 ".slice:cri-containerd:" ID_A,
	 "containerd.service", NULL, "system.slice", ID_A, "containerd", UID_D},
	/* kind: a kubelet inside a docker container; the innermost container wins, the unit is
	 * the host's scope */
	{"/system.slice/docker-" ID_B ".scope/kubelet.slice/kubelet-kubepods.slice/"
	 "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UID_U
	 ".slice/cri-containerd-" ID_A ".scope",
	 "docker-" ID_B ".scope", NULL, "system.slice", ID_A, "containerd", UID_D},
	/* not ids: wrong length, upper case */
	{"/system.slice/docker-abc.scope", "docker-abc.scope", NULL, "system.slice", NULL, NULL,
	 NULL},
	{"/docker/3F2A5C0E9D8B7A6F5E4D3C2B1A0F9E8D7C6B5A4F3E2D1C0B9A8F7E6D5C4B3A29", NULL, NULL,
	 NULL, NULL, NULL, NULL},
	/* a bare id outside docker/kubepods is not claimed */
	{"/misc/" ID_A, NULL, NULL, NULL, NULL, NULL, NULL},
};

static void expect_span(const char *path, struct cgroup_span s, const char *want)
{
	char buf[CGROUP_PATH_MAX + 1];

	if (!want) {
		if (s.len != 0)
			TAP_FAIL("%s: expected no value, got '%.*s'", path, s.len, path + s.off);
		return;
	}
	memcpy(buf, path + s.off, s.len);
	buf[s.len] = 0;
	if (!streq(buf, want))
		TAP_FAIL("%s: '%s' != '%s'", path, buf, want);
}

TEST(parse_table)
{
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		const struct cgcase *c = &cases[i];
		struct cgroup_info info;
		const char *rt;

		ASSERT_OK(cgroup_parse_path(c->path, &info));
		expect_span(c->path, info.unit, c->unit);
		expect_span(c->path, info.user_unit, c->user_unit);
		expect_span(c->path, info.slice, c->slice);
		expect_span(c->path, info.container_id, c->id);
		rt = container_runtime_to_string(info.runtime);
		if (!streq_ptr(rt, c->runtime))
			TAP_FAIL("%s: runtime %s != %s", c->path, rt ?: "(none)",
				 c->runtime ?: "(none)");
		if (!streq(info.pod_uid, c->pod ?: ""))
			TAP_FAIL("%s: pod '%s' != '%s'", c->path, info.pod_uid, c->pod ?: "");
	}
}

TEST(parse_bad)
{
	struct cgroup_info info;
	char *big = malloc(CGROUP_PATH_MAX + 2);

	ASSERT_ERRNO(cgroup_parse_path(NULL, &info), EINVAL);
	ASSERT_ERRNO(cgroup_parse_path("system.slice/x.service", &info), EINVAL);
	memset(big, 'a', CGROUP_PATH_MAX + 1);
	big[0] = '/';
	big[CGROUP_PATH_MAX + 1] = 0;
	ASSERT_ERRNO(cgroup_parse_path(big, &info), ENAMETOOLONG);
	free(big);
}

static void mkdirs(const char *base, const char *rel)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s%s", base, rel);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			(void)mkdir(p, 0755);
			*s = '/';
		}
	(void)mkdir(p, 0755);
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "we");

	if (!f)
		TAP_FAIL("fopen %s: %m", path);
	fputs(content, f);
	fclose(f);
}

/* A plain directory tree stands in for cgroupfs: directory inode numbers play cgroup ids. */
TEST(resolver_fake_tree)
{
	char tmpl[] = "/tmp/vigil-cg-XXXXXX", root[4200], proc[4200], fn[4300];
	struct cgroup_resolver *r = NULL;
	const struct cgroup_info *info;
	const char *path;
	uint64_t id_nginx, id_sess, id_gone = 0;

	ASSERT_NOT_NULL(mkdtemp(tmpl));
	snprintf(root, sizeof(root), "%s/cg", tmpl);
	snprintf(proc, sizeof(proc), "%s/proc", tmpl);
	mkdirs(root, "/system.slice/nginx.service");
	mkdirs(root, "/user.slice/user-1000.slice/session-3.scope");
	mkdirs(proc, "/42");
	snprintf(fn, sizeof(fn), "%s/42/cgroup", proc);
	write_file(fn, "12:pids:/system.slice/nginx.service\n0::/system.slice/nginx.service\n");

	ASSERT_OK(cgroup_resolver_new_at(root, proc, &r));
	ASSERT_OK(cgroup_resolver_path_to_id(r, "/system.slice/nginx.service", &id_nginx));
	ASSERT_OK(cgroup_resolver_path_to_id(r, "/user.slice/user-1000.slice/session-3.scope",
					     &id_sess));

	/* by pid hint: no rescan */
	ASSERT_OK(cgroup_resolver_lookup_info(r, id_nginx, 42, &path, &info));
	ASSERT_STREQ(path, "/system.slice/nginx.service");
	ASSERT_EQ(info->unit.len, strlen("nginx.service"));
	ASSERT_EQ(cgroup_resolver_rescans(r), 0);

	/* pid hint pointing elsewhere (inode mismatch) and a gone pid: rescan finds it */
	ASSERT_OK(cgroup_resolver_lookup(r, id_sess, 42, &path));
	ASSERT_STREQ(path, "/user.slice/user-1000.slice/session-3.scope");
	ASSERT_EQ(cgroup_resolver_rescans(r), 1);
	/* the rescan filled the cache with every directory */
	ASSERT_GE(cgroup_resolver_size(r), 5);

	/* unknown id right after a rescan: rate-limited, no second walk */
	for (uint64_t x = 1; x < 100 && !id_gone; x++)
		if (x != id_nginx && x != id_sess)
			id_gone = x;
	ASSERT_ERRNO(cgroup_resolver_lookup(r, id_gone, 99999, &path), ENOENT);
	ASSERT_EQ(cgroup_resolver_rescans(r), 1);

	/* cached now */
	ASSERT_OK(cgroup_resolver_lookup(r, id_nginx, 0, &path));
	ASSERT_STREQ(path, "/system.slice/nginx.service");
	cgroup_resolver_free(r);

	snprintf(fn, sizeof(fn), "rm -rf '%s'", tmpl);
	ASSERT_EQ(system(fn), 0);
}

/* The real cgroup2 mount: our own cgroup resolves through the pid hint and through a rescan. */
TEST(resolver_real_self)
{
	struct cgroup_resolver *r = NULL, *r2 = NULL;
	char own[CGROUP_PATH_MAX + 1];
	const char *path;
	uint64_t id;
	int k;

	k = cgroup_resolver_new(&r);
	if (k == -ENOMEDIUM) {
		printf("# no cgroup2 mount, skipping\n");
		return;
	}
	ASSERT_OK(k);
	ASSERT_TRUE(cgroup_resolver_root(r)[0] == '/' || cgroup_resolver_root(r)[0] == 0);
	ASSERT_OK(cgroup_read_pid_path("/proc", getpid(), own, sizeof(own)));
	ASSERT_OK(cgroup_resolver_path_to_id(r, own, &id));
	ASSERT_OK(cgroup_resolver_lookup(r, id, getpid(), &path));
	ASSERT_STREQ(path, own);

	ASSERT_OK(cgroup_resolver_new(&r2));
	ASSERT_OK(cgroup_resolver_lookup(r2, id, 0, &path));
	ASSERT_STREQ(path, own);
	ASSERT_EQ(cgroup_resolver_rescans(r2), 1);
	cgroup_resolver_free(r);
	cgroup_resolver_free(r2);
}

int main(void)
{
	return tap_run();
}

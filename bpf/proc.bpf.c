// placeholder
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");
SEC("tp_btf/sched_process_exec")
int handle_exec(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "Dual BSD/GPL";

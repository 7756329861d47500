# SPDX-License-Identifier: GPL-2.0-or-later
dist_doc_DATA += README.md docs/event-schema.md docs/plugin-abi.md docs/outputs.md \
	docs/architecture-notes.md docs/policies.md docs/delivery.md docs/outputs-kafka.md \
	docs/outputs-elasticsearch.md docs/outputs-splunk-hec.md docs/metrics.md \
	docs/benchmarks-outputs.md

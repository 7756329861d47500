# SPDX-License-Identifier: GPL-2.0-or-later
# Vendor configuration: /usr/lib/vigil (lowest precedence, see vigild.conf(5)); administrators
# override it in /etc/vigil. It follows $(prefix), so a /usr/local build installs into
# /usr/local/lib/vigil, which vigild also reads.
vendorconfdir = $(prefix)/lib/vigil
dist_vendorconf_DATA = conf.d/vigild.conf

vendoroutputsdir = $(vendorconfdir)/outputs.d
dist_vendoroutputs_DATA = conf.d/outputs.d/journald.conf conf.d/outputs.d/stdout.conf
EXTRA_DIST += conf.d/outputs.d/file.conf.example

vendorpolicydir = $(vendorconfdir)/policy.d
dist_vendorpolicy_DATA = conf.d/policy.d/10-sensitive-files.yaml conf.d/policy.d/20-network.yaml \
	conf.d/policy.d/30-privileges.yaml

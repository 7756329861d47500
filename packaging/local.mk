# SPDX-License-Identifier: GPL-2.0-or-later
# Packaging: the systemd unit, the Debian and rpm packaging, logrotate, and the installation proof
# (docs/packaging.md). `make check-packages` (root, Debian 12) builds the .debs from `make dist`,
# installs them into a fresh Debian root and boots it with systemd-nspawn; `make check-rpm`
# builds the rpms.
EXTRA_DIST += \
	packaging/systemd/vigild.service \
	packaging/logrotate/vigil \
	packaging/rpm/vigil.spec \
	packaging/check-packages.sh \
	packaging/test/guest-proof.sh \
	packaging/deb/debian/changelog \
	packaging/deb/debian/control \
	packaging/deb/debian/copyright \
	packaging/deb/debian/rules \
	packaging/deb/debian/source/format \
	packaging/deb/debian/vigil.dirs \
	packaging/deb/debian/vigil.examples \
	packaging/deb/debian/vigil.lintian-overrides \
	packaging/deb/debian/vigil-output-http.lintian-overrides \
	packaging/deb/debian/vigil-output-kafka.lintian-overrides \
	packaging/deb/debian/vigil.postrm
dist_doc_DATA += docs/packaging.md

check-packages: dist
	$(top_srcdir)/packaging/check-packages.sh $(PACKAGE)-$(VERSION).tar.gz

check-rpm: dist
	$(top_srcdir)/packaging/check-packages.sh --rpm $(PACKAGE)-$(VERSION).tar.gz

.PHONY: check-packages check-rpm

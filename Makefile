# Builds and installs sscard the way Debian lays out a system daemon.
#
#   make                      # cargo build --release: the programs and libsscard.so
#   make install DESTDIR=/tmp/root
#   make install PROFILE=debug CARGO_TARGET_DIR=target   # install a debug build
#   make install-lib DESTDIR=/tmp/root                   # libsscard, its header and sscard.pc only
#   make deb                  # the Debian packages, into target/debian/
#   make docs                 # regenerate man/ and completions/ from the command lines
#
# After a real install (DESTDIR empty), as root:
#   systemd-sysusers sscard.conf && udevadm control --reload && systemctl daemon-reload
#   systemctl reload dbus

PREFIX ?= /usr
SYSCONFDIR ?= /etc
DESTDIR ?=
PROFILE ?= release
CARGO ?= cargo
CARGO_TARGET_DIR ?= target

BIN_DIR ?= $(CARGO_TARGET_DIR)/$(PROFILE)
# Where the cdylibs are (libsscard.so, libsscard_ifd.so): beside the
# programs, or in deps/ for the tests.
LIB_BUILD_DIR ?= $(BIN_DIR)
# Cargo calls the debug profile "dev".
CARGO_PROFILE := $(if $(filter debug,$(PROFILE)),dev,$(PROFILE))
INCLUDEDIR ?= $(PREFIX)/include
# libsscard goes where Debian keeps libraries, /usr/lib/<triplet>
# (DEB_HOST_MULTIARCH inside a package build, else the toolchain's);
# $(PREFIX)/lib where there is no triplet.
ifeq ($(origin MULTIARCH),undefined)
MULTIARCH := $(or $(DEB_HOST_MULTIARCH),$(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null),$(shell $(CC) -print-multiarch 2>/dev/null))
endif
LIBDIR ?= $(PREFIX)/lib$(if $(MULTIARCH),/$(MULTIARCH))
PKGCONFIG_DIR ?= $(LIBDIR)/pkgconfig
# The C ABI's major version: the SONAME build.rs gives libsscard.so.
SOVERSION := 1
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
DATA_DIR := $(PREFIX)/share/sscard
SCRIPTS_DIR := $(DATA_DIR)/apdu-scripts
LIBEXEC_DIR := $(PREFIX)/libexec
# Where the system's D-Bus and polkit look, whatever PREFIX is.
DBUS_DIR := /usr/share/dbus-1
POLKIT_DIR := /usr/share/polkit-1
SYSTEMD_DIR := /usr/lib/systemd/system
# The bridge's user unit (Debian: /usr/lib/systemd/user).
SYSTEMD_USER_DIR ?= $(PREFIX)/lib/systemd/user
SYSUSERS_DIR := /usr/lib/sysusers.d
# pcscd's drivers for readers configured in reader.conf (vpcd's too).
PCSC_DRIVER_DIR ?= /usr/lib/pcsc/drivers/serial
IFD_EXAMPLES_DIR ?= $(PREFIX)/share/doc/sscard-sim/examples
UDEV_DIR := /usr/lib/udev/rules.d
MANDIR ?= $(PREFIX)/share/man
# Where Debian's shells look for completions.
BASH_COMPLETION_DIR ?= $(PREFIX)/share/bash-completion/completions
ZSH_COMPLETION_DIR ?= $(PREFIX)/share/zsh/vendor-completions
FISH_COMPLETION_DIR ?= $(PREFIX)/share/fish/vendor_completions.d
# Write $(SYSCONFDIR)/sscard/sscardd.toml (if absent) at install; the Debian
# package writes it in its postinst instead.
INSTALL_CONFIG ?= yes
# Where `make deb` puts the packages.
DEB_DIR ?= $(CARGO_TARGET_DIR)/debian

.PHONY: all build install install-lib uninstall deb docs

all: build

build:
	SSCARD_SCRIPTS_DIR=$(SCRIPTS_DIR) SSCARD_CONFIG=$(SYSCONFDIR)/sscard/sscardd.toml \
		$(CARGO) build --profile $(CARGO_PROFILE) --workspace --exclude sscard-testkit --lib --bins

install: install-lib
	@test -x $(BIN_DIR)/sscardd || { echo "make install: $(BIN_DIR)/sscardd is missing; run make first" >&2; exit 1; }
	install -D -m 0755 $(BIN_DIR)/sscardd $(DESTDIR)$(LIBEXEC_DIR)/sscardd
	install -D -m 0755 $(BIN_DIR)/sscardctl $(DESTDIR)$(PREFIX)/bin/sscardctl
	install -D -m 0755 $(BIN_DIR)/sscard-sim $(DESTDIR)$(PREFIX)/bin/sscard-sim
	@# sscard-ifd, the simulator's reader driver for pcscd, and its examples.
	install -D -m 0644 $(LIB_BUILD_DIR)/libsscard_ifd.so $(DESTDIR)$(PCSC_DRIVER_DIR)/libsscard_ifd.so
	install -D -m 0644 etc/sscard-ifd/reader.conf $(DESTDIR)$(IFD_EXAMPLES_DIR)/reader.conf
	install -D -m 0644 etc/sscard-ifd/sscard-ifd.conf $(DESTDIR)$(IFD_EXAMPLES_DIR)/sscard-ifd.conf
	install -D -m 0755 $(BIN_DIR)/sscard-bridge $(DESTDIR)$(PREFIX)/bin/sscard-bridge
	install -D -m 0644 dbus/org.sscard.Daemon.conf $(DESTDIR)$(DBUS_DIR)/system.d/org.sscard.Daemon.conf
	install -d $(DESTDIR)$(DBUS_DIR)/system-services
	sed 's|/usr/libexec/sscardd|$(LIBEXEC_DIR)/sscardd|' dbus/org.sscard.Daemon.service \
		> $(DESTDIR)$(DBUS_DIR)/system-services/org.sscard.Daemon.service
	chmod 0644 $(DESTDIR)$(DBUS_DIR)/system-services/org.sscard.Daemon.service
	install -D -m 0644 dbus/org.sscard.Manager1.xml $(DESTDIR)$(DBUS_DIR)/interfaces/org.sscard.Manager1.xml
	install -D -m 0644 dbus/org.sscard.Reader1.xml $(DESTDIR)$(DBUS_DIR)/interfaces/org.sscard.Reader1.xml
	install -D -m 0644 dbus/org.sscard.HsmSession1.xml $(DESTDIR)$(DBUS_DIR)/interfaces/org.sscard.HsmSession1.xml
	install -D -m 0644 polkit/org.sscard.policy $(DESTDIR)$(POLKIT_DIR)/actions/org.sscard.policy
	install -D -m 0644 polkit/50-sscard.rules $(DESTDIR)$(POLKIT_DIR)/rules.d/50-sscard.rules
	install -d $(DESTDIR)$(SYSTEMD_DIR)
	sed 's|/usr/libexec/sscardd|$(LIBEXEC_DIR)/sscardd|' systemd/sscardd.service > $(DESTDIR)$(SYSTEMD_DIR)/sscardd.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_DIR)/sscardd.service
	install -d $(DESTDIR)$(SYSTEMD_USER_DIR)
	sed 's|/usr/bin/sscard-bridge|$(PREFIX)/bin/sscard-bridge|' systemd/user/sscard-bridge.service \
		> $(DESTDIR)$(SYSTEMD_USER_DIR)/sscard-bridge.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_USER_DIR)/sscard-bridge.service
	install -D -m 0644 systemd/sscard.sysusers $(DESTDIR)$(SYSUSERS_DIR)/sscard.conf
	install -D -m 0644 udev/60-sscard.rules $(DESTDIR)$(UDEV_DIR)/60-sscard.rules
	for profile in apdu-scripts/*/; do \
		name=$$(basename $$profile); \
		install -d -m 0755 $(DESTDIR)$(SCRIPTS_DIR)/$$name; \
		install -m 0644 $$profile* $(DESTDIR)$(SCRIPTS_DIR)/$$name/; \
	done
	install -m 0644 apdu-scripts/README.md $(DESTDIR)$(SCRIPTS_DIR)/README.md
	@# The configuration's template, with an empty salt.
	install -D -m 0644 etc/sscardd.toml $(DESTDIR)$(DATA_DIR)/sscardd.toml
	@# Manual pages and completions (man/ and completions/, generated from
	@# the command lines by `make docs`; sscardd.toml.5 and libsscard.3 by hand).
	for page in man/*.[0-9]; do \
		section=$${page##*.}; \
		install -D -m 0644 $$page $(DESTDIR)$(MANDIR)/man$$section/$$(basename $$page); \
	done
	for file in completions/bash/*; do \
		install -D -m 0644 $$file $(DESTDIR)$(BASH_COMPLETION_DIR)/$$(basename $$file); \
	done
	for file in completions/zsh/*; do \
		install -D -m 0644 $$file $(DESTDIR)$(ZSH_COMPLETION_DIR)/$$(basename $$file); \
	done
	for file in completions/fish/*; do \
		install -D -m 0644 $$file $(DESTDIR)$(FISH_COMPLETION_DIR)/$$(basename $$file); \
	done
	@# The configuration holds the audit salt: readable by root and the
	@# daemon only, with a salt of its own at the first install; an
	@# existing one is the administrator's and stays as it is.
	@if [ "$(INSTALL_CONFIG)" = yes ] && [ ! -e $(DESTDIR)$(SYSCONFDIR)/sscard/sscardd.toml ]; then \
		salt=$$(head -c 32 /dev/urandom | base64 | tr -d '\n'); \
		install -d $(DESTDIR)$(SYSCONFDIR)/sscard; \
		(umask 0027; sed "s|^audit_salt = \"\"|audit_salt = \"$$salt\"|" etc/sscardd.toml \
			> $(DESTDIR)$(SYSCONFDIR)/sscard/sscardd.toml); \
		chmod 0640 $(DESTDIR)$(SYSCONFDIR)/sscard/sscardd.toml; \
		if getent group sscardd >/dev/null; then chgrp sscardd $(DESTDIR)$(SYSCONFDIR)/sscard/sscardd.toml; fi; \
	fi

# The national interface for counter software: the library under its
# SONAME, the linker's libsscard.so beside it, the header and pkg-config.
install-lib:
	@test -f $(LIB_BUILD_DIR)/libsscard.so || { echo "make install: $(LIB_BUILD_DIR)/libsscard.so is missing; run make first" >&2; exit 1; }
	install -D -m 0644 $(LIB_BUILD_DIR)/libsscard.so $(DESTDIR)$(LIBDIR)/libsscard.so.$(SOVERSION)
	ln -sfn libsscard.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libsscard.so
	install -D -m 0644 include/sscard.h $(DESTDIR)$(INCLUDEDIR)/sscard.h
	install -d $(DESTDIR)$(PKGCONFIG_DIR)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' sscard.pc.in > $(DESTDIR)$(PKGCONFIG_DIR)/sscard.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIG_DIR)/sscard.pc
	@if [ -z "$(DESTDIR)" ] && command -v ldconfig >/dev/null; then ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libsscard.so $(DESTDIR)$(LIBDIR)/libsscard.so.$(SOVERSION)
	rm -f $(DESTDIR)$(INCLUDEDIR)/sscard.h $(DESTDIR)$(PKGCONFIG_DIR)/sscard.pc
	rm -f $(DESTDIR)$(LIBEXEC_DIR)/sscardd $(DESTDIR)$(PREFIX)/bin/sscardctl $(DESTDIR)$(PREFIX)/bin/sscard-sim
	rm -f $(DESTDIR)$(PCSC_DRIVER_DIR)/libsscard_ifd.so
	rm -f $(DESTDIR)$(IFD_EXAMPLES_DIR)/reader.conf $(DESTDIR)$(IFD_EXAMPLES_DIR)/sscard-ifd.conf
	rm -f $(DESTDIR)$(PREFIX)/bin/sscard-bridge $(DESTDIR)$(SYSTEMD_USER_DIR)/sscard-bridge.service
	rm -f $(DESTDIR)$(DBUS_DIR)/system.d/org.sscard.Daemon.conf
	rm -f $(DESTDIR)$(DBUS_DIR)/system-services/org.sscard.Daemon.service
	rm -f $(DESTDIR)$(DBUS_DIR)/interfaces/org.sscard.Manager1.xml
	rm -f $(DESTDIR)$(DBUS_DIR)/interfaces/org.sscard.Reader1.xml
	rm -f $(DESTDIR)$(DBUS_DIR)/interfaces/org.sscard.HsmSession1.xml
	rm -f $(DESTDIR)$(POLKIT_DIR)/actions/org.sscard.policy
	rm -f $(DESTDIR)$(POLKIT_DIR)/rules.d/50-sscard.rules
	rm -f $(DESTDIR)$(SYSTEMD_DIR)/sscardd.service $(DESTDIR)$(SYSUSERS_DIR)/sscard.conf
	rm -f $(DESTDIR)$(UDEV_DIR)/60-sscard.rules
	rm -rf $(DESTDIR)$(DATA_DIR)
	for page in man/*.[0-9]; do rm -f $(DESTDIR)$(MANDIR)/man$${page##*.}/$$(basename $$page); done
	for file in completions/bash/*; do rm -f $(DESTDIR)$(BASH_COMPLETION_DIR)/$$(basename $$file); done
	for file in completions/zsh/*; do rm -f $(DESTDIR)$(ZSH_COMPLETION_DIR)/$$(basename $$file); done
	for file in completions/fish/*; do rm -f $(DESTDIR)$(FISH_COMPLETION_DIR)/$$(basename $$file); done

# The Debian packages sscard, libsscard1, libsscard-dev, sscard-bridge and
# sscard-sim, into $(DEB_DIR): debian/rules' clean, build and binary targets,
# as dpkg-buildpackage -b runs them, without its .changes and .buildinfo
# (which it writes to the parent directory). SSCARD_DEB_VERSION=… builds
# them under another version. Needs debhelper (scripts/setup installs it).
deb:
	dpkg-checkbuilddeps
	mkdir -p $(DEB_DIR)
	rm -f $(DEB_DIR)/*.deb
	debian/rules clean
	SSCARD_DEB_DIR=$(abspath $(DEB_DIR)) CARGO_TARGET_DIR=$(abspath $(CARGO_TARGET_DIR)) debian/rules build
	SSCARD_DEB_DIR=$(abspath $(DEB_DIR)) CARGO_TARGET_DIR=$(abspath $(CARGO_TARGET_DIR)) debian/rules binary
	debian/rules clean
	@ls -1 $(DEB_DIR)/*.deb

# man/ and completions/ from the clap definitions in src/cli/ (tests/docs.rs
# checks they are current).
docs:
	SSCARD_UPDATE_DOCS=1 $(CARGO) test --test docs generated_pages_and_completions_are_current

# ccnn - plain Makefile. `make` builds the libraries, pkg-config file and the
# ccnn command; `make test` runs the unit tests; `make test-sanitize` runs
# them under AddressSanitizer + UBSan; `make bench` prints speed.
CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
# -fno-math-errno: sqrtf and friends may then vectorise (the library never
# reads errno after a math function; strtod and friends still set it).
CFLAGS  += -std=c11 -Wall -Wextra -fno-math-errno -fopenmp -fPIC -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc
LDLIBS  += -lcjson -lz -lm -fopenmp
# Open MPI (optional; docs/distributed.md): data-parallel training when
# pkg-config finds ompi-c. MPI=1 / MPI=0 forces it on or off.
MPI ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
CFLAGS  += -DCCNN_MPI $(shell pkg-config --cflags ompi-c)
LDLIBS  += $(shell pkg-config --libs ompi-c)
PC_REQUIRES = ompi-c
endif
# Image decoding (src/image/): libpng and libjpeg-turbo, made for untrusted files.
CFLAGS  += $(shell pkg-config --cflags libpng 2>/dev/null)
LDLIBS  += $(or $(shell pkg-config --libs libpng 2>/dev/null),-lpng16) -ljpeg

LIB_SRC   := $(sort $(wildcard src/*/*.c))
CLI_SRC   := $(sort $(wildcard cli/*.c))
TEST_SRC  := $(sort $(wildcard tests/*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/default_net.o
TEST_OBJ  := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: FORCE all test test-sanitize test-aarch64 bench accuracy install clean fuzz fuzz-smoke
all: $(BUILD)/libccnn.a $(BUILD)/libccnn.so $(BUILD)/ccnn.pc $(if $(CLI_SRC),$(BUILD)/ccnn)

$(BUILD)/obj/%.o: %.c include/ccnn.h $(wildcard src/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The default network is compiled into the command from its file in nets/.
$(BUILD)/gen/default_net.c: nets/fashion-default.net
	@mkdir -p $(dir $@)
	{ echo '/* generated from $< by the Makefile */'; echo 'const char cli_default_net[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n"/' $<; echo ';'; } > $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libccnn.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libccnn.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS) $(LDLIBS)

# The build-tree .pc points at this checkout (with an rpath, so programs run
# without installing); `make install` writes one for PREFIX.
$(BUILD)/ccnn.pc: ccnn.pc.in Makefile
	@mkdir -p $(BUILD)
	sed -e 's|@LIBDIR@|$(abspath $(BUILD))|' -e 's|@INCLUDEDIR@|$(abspath include)|' \
	    -e 's|@RPATH@|-Wl,-rpath,$${libdir} |' -e 's|@REQUIRES@|$(PC_REQUIRES)|' ccnn.pc.in > $@

$(BUILD)/ccnn: $(CLI_OBJ) $(BUILD)/libccnn.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libccnn.a $(LDFLAGS) $(LDLIBS)

# The list of test files as a file, rewritten only when it changes, so that
# removing a tests/*.c relinks the suite without the removed tests.
$(BUILD)/tests.list: FORCE
	@mkdir -p $(@D); echo '$(TEST_SRC)' | cmp -s - $@ || echo '$(TEST_SRC)' > $@
FORCE:

$(BUILD)/ccnn_tests: $(TEST_OBJ) $(BUILD)/libccnn.a $(BUILD)/tests.list
	$(CC) $(CFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/libccnn.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libccnn.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libccnn.a $(LDFLAGS) $(LDLIBS)

# With MPI: a program embedding the library data-parallel (tests/test_dist.c runs it).
MPI_EMBED := $(if $(filter 1,$(MPI)),$(BUILD)/mpi_embed)
$(BUILD)/mpi_embed: tests/mpi/embed.c $(BUILD)/libccnn.a
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libccnn.a $(LDFLAGS) $(LDLIBS)

test: $(BUILD)/ccnn_tests all $(MPI_EMBED)
	$(BUILD)/ccnn_tests

# Same suite, instrumented; its own build folder so objects never mix.
# The command is instrumented too, and the CLI tests run it.
test-sanitize:
	$(MAKE) BUILD=build/sanitize OPT="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" build/sanitize/ccnn_tests build/sanitize/ccnn \
	    $(if $(filter 1,$(MPI)),build/sanitize/mpi_embed)
	ASAN_OPTIONS=detect_leaks=1 CCNN_CLI=build/sanitize/ccnn build/sanitize/ccnn_tests

# The suite, library and command cross-built for ARM64 (Debian's
# gcc-aarch64-linux-gnu) and run under qemu-user: scripts/install-deps.sh
# --aarch64. Its own build folder. The programs run on the arm64 multiarch
# libraries (libc6:arm64, libgomp1:arm64: the loader /lib/ld-linux-aarch64.so.1),
# not with -L /usr/aarch64-linux-gnu: that loader of the cross package finds
# the multiarch libc through ld.so.cache, and the two versions' private
# structures differ (pthread_create loops forever). The tests run the command
# under qemu too (CCNN_CLI holds the whole command line). OpenMP threads
# sleep rather than spin while they wait (OMP_WAIT_POLICY=passive: the
# emulated spin starves the thread it waits for; same results).
# CCNN_TEST_QUICK=1 gives the slowest tests smaller inputs (tests/test.h).
# The tests are built before the command, so a missing arm64 -dev package
# names itself.
AARCH64_CC   ?= aarch64-linux-gnu-gcc
AARCH64_QEMU ?= qemu-aarch64
test-aarch64:
	$(MAKE) BUILD=build/aarch64 CC=$(AARCH64_CC) MPI=0 build/aarch64/ccnn_tests
	$(MAKE) BUILD=build/aarch64 CC=$(AARCH64_CC) MPI=0 build/aarch64/ccnn
	CCNN_TEST_QUICK=1 OMP_WAIT_POLICY=passive CCNN_CLI="$(AARCH64_QEMU) $(abspath build/aarch64/ccnn)" \
	    $(AARCH64_QEMU) build/aarch64/ccnn_tests

# Each bench program prints its own table and appends machine-readable lines
# to $(BUILD)/bench/results.csv; bench_torch.py (Debian's python3-torch)
# measures PyTorch and prints the combined table last. docs/performance.md.
# With PyTorch: ccnn and PyTorch alternate, REPEAT runs of each, medians.
# One table per entry of BENCH_ISAS: "native" (each library's best) and
# "avx2" (CCNN_ISA=avx2 against oneDNN capped by ONEDNN_MAX_CPU_ISA=AVX2).
REPEAT ?= 3
BENCH_ISAS ?= native avx2
bench: $(BENCH_BIN) all
	@rm -f $(BUILD)/bench/results.csv
	@for isa in $(BENCH_ISAS); do \
	  cap=; [ $$isa = native ] || cap="--isa $$isa"; \
	  echo "######## ISA: $$isa"; \
	  if [ -f bench/bench_torch.py ] && /usr/bin/python3 -c "import torch" 2>/dev/null; then \
	    /usr/bin/python3 bench/bench_torch.py --run-ccnn $(BUILD)/bench --repeat $(REPEAT) \
	        --log $(BUILD)/bench/results.csv $$cap || exit 1; \
	  else \
	    env=; [ $$isa = native ] || env="CCNN_ISA=$$isa"; \
	    for b in $(BENCH_BIN); do echo "== $$b"; env $$env $$b --csv $(BUILD)/bench/results.csv || exit 1; echo; done; \
	    echo "(no PyTorch comparison: /usr/bin/python3 lacks torch; ./scripts/install-deps.sh --bench)"; \
	  fi; \
	done
	@echo "== data-parallel training (bench/dist/run.sh, docs/distributed.md)"
	@REPEAT=$(REPEAT) bench/dist/run.sh $(BUILD)

# Training to accuracy on Fashion-MNIST (minutes; FULL=1: about 45 minutes).
accuracy: all
	scripts/check-accuracy.sh $(if $(FULL),full)

# ---- fuzzing (issue 11; docs/reliability.md) --------------------------------
# One libFuzzer harness per parser in fuzz/, built with clang-14 under ASan +
# UBSan (./scripts/install-deps.sh --fuzz). `make fuzz-smoke` runs each for
# FUZZ_SECONDS from its committed seeds (fuzz/corpus/NAME); a crash, a leak,
# an input over 1 GB or over 10 s fails it. FUZZ_RUN=DIR keeps what the runs
# find in DIR/NAME (the campaign); the committed corpora stay as they are.
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 30
FUZZ_BUILD   := $(BUILD)/fuzz
FUZZ_CFLAGS  := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
                -Wno-pass-failed -std=c11 -Wall -Wextra -fno-math-errno -fopenmp -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc \
                $(shell pkg-config --cflags libpng 2>/dev/null)
FUZZ_SRC     := $(filter-out fuzz/fuzz.h,$(sort $(wildcard fuzz/fuzz_*.c)))
FUZZ_BIN     := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)

fuzz: $(FUZZ_BIN)

$(FUZZ_BUILD)/obj/%.o: %.c include/ccnn.h $(wildcard src/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(wildcard fuzz/*.h) $(wildcard fuzz/fuzz_idx.c) $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) $(LDLIBS)

fuzz-smoke: fuzz
	@for b in $(FUZZ_BIN); do n=$${b##*/fuzz_}; \
	    w=$(if $(FUZZ_RUN),$(FUZZ_RUN)/$$n,$(FUZZ_BUILD)/run/$$n); $(if $(FUZZ_RUN),,rm -rf $$w;) mkdir -p $$w; \
	    echo "== fuzz_$$n ($(FUZZ_SECONDS) s)"; \
	    if ASAN_OPTIONS=detect_leaks=1 $$b -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 -timeout=10 \
	        -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crash-$$n- $$w fuzz/corpus/$$n \
	        > $(FUZZ_BUILD)/$$n.log 2>&1; then \
	        grep -E "^#[0-9]+.*DONE|^stat::number_of_executed_units|^stat::peak_rss_mb" $(FUZZ_BUILD)/$$n.log; \
	    else tail -40 $(FUZZ_BUILD)/$$n.log; echo "fuzz_$$n FAILED (log: $(FUZZ_BUILD)/$$n.log)"; exit 1; fi; \
	done

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/ccnn.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libccnn.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libccnn.so $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@LIBDIR@|$(PREFIX)/lib|' -e 's|@INCLUDEDIR@|$(PREFIX)/include|' -e 's|@RPATH@||' \
	    -e 's|@REQUIRES@|$(PC_REQUIRES)|' \
	    ccnn.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ccnn.pc
	if [ -f $(BUILD)/ccnn ]; then install -m 755 $(BUILD)/ccnn $(DESTDIR)$(PREFIX)/bin/; fi

clean:
	rm -rf build

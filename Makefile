.PHONY: install check test demo
install:
	bash scripts/install.sh all,dev
check:
	bash scripts/check.sh
test: check
demo:
	bash scripts/demo.sh

# Aliases for run.py, which needs only Python 3.11 (it creates .venv/ and installs on first use).
.PHONY: dashboard test notebooks bench lab
dashboard:
	python3 run.py dashboard
test:
	python3 run.py test
notebooks:
	python3 run.py notebooks $(if $(QUICK),--quick,)
bench:
	python3 run.py bench
lab:
	python3 run.py lab

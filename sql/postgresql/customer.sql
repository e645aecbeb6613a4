CREATE TABLE stg_customer_account (
	run_id VARCHAR(32) NOT NULL, 
	worker_id INTEGER NOT NULL, 
	chunk_id INTEGER NOT NULL, 
	record_no BIGINT NOT NULL, 
	cust_id BIGINT, 
	cust_name VARCHAR(30), 
	branch_code VARCHAR(4), 
	acct_type VARCHAR(1), 
	open_date INTEGER, 
	balance NUMERIC(13, 2), 
	credit_limit NUMERIC(11, 2), 
	interest_rate NUMERIC(5, 5), 
	txn_count INTEGER, 
	last_txn_amount NUMERIC(9, 2), 
	status_code VARCHAR(2), 
	risk_score SMALLINT, 
	bonus_points INTEGER
);

CREATE TABLE customer_account (
	cust_id BIGINT, 
	cust_name VARCHAR(30), 
	branch_code VARCHAR(4), 
	acct_type VARCHAR(1), 
	open_date INTEGER, 
	balance NUMERIC(13, 2), 
	credit_limit NUMERIC(11, 2), 
	interest_rate NUMERIC(5, 5), 
	txn_count INTEGER, 
	last_txn_amount NUMERIC(9, 2), 
	status_code VARCHAR(2), 
	risk_score SMALLINT, 
	bonus_points INTEGER, 
	last_run_id VARCHAR(32) NOT NULL
);

CREATE INDEX ix_stg_customer_account ON stg_customer_account (run_id, chunk_id);


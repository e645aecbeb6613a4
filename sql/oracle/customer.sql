CREATE TABLE stg_customer_account (
	run_id VARCHAR2(32 CHAR) NOT NULL, 
	worker_id INTEGER NOT NULL, 
	chunk_id INTEGER NOT NULL, 
	record_no NUMBER(19) NOT NULL, 
	cust_id NUMBER(19, 0), 
	cust_name VARCHAR2(30 CHAR), 
	branch_code VARCHAR2(4 CHAR), 
	acct_type VARCHAR2(1 CHAR), 
	open_date NUMBER(10, 0), 
	balance NUMBER(13, 2), 
	credit_limit NUMBER(11, 2), 
	interest_rate NUMBER(5, 5), 
	txn_count NUMBER(10, 0), 
	last_txn_amount NUMBER(9, 2), 
	status_code VARCHAR2(2 CHAR), 
	risk_score NUMBER(5, 0), 
	bonus_points NUMBER(10, 0)
);

CREATE TABLE customer_account (
	cust_id NUMBER(19, 0), 
	cust_name VARCHAR2(30 CHAR), 
	branch_code VARCHAR2(4 CHAR), 
	acct_type VARCHAR2(1 CHAR), 
	open_date NUMBER(10, 0), 
	balance NUMBER(13, 2), 
	credit_limit NUMBER(11, 2), 
	interest_rate NUMBER(5, 5), 
	txn_count NUMBER(10, 0), 
	last_txn_amount NUMBER(9, 2), 
	status_code VARCHAR2(2 CHAR), 
	risk_score NUMBER(5, 0), 
	bonus_points NUMBER(10, 0), 
	last_run_id VARCHAR2(32 CHAR) NOT NULL
);

CREATE INDEX ix_stg_customer_account ON stg_customer_account (run_id, chunk_id);


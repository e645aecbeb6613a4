      *****************************************************************
      * CUSTOMER-ACCOUNT: the demo and benchmark layout of mfpipe.
      * 100 bytes: text, zoned, packed (money), binary and a filler.
      *****************************************************************
       01  CUSTOMER-ACCOUNT.
           05  CUST-ID                PIC 9(10).
           05  CUST-NAME              PIC X(30).
           05  BRANCH-CODE            PIC X(4).
           05  ACCT-TYPE              PIC X.
               88  ACCT-SAVINGS       VALUE 'S'.
               88  ACCT-CHECKING      VALUE 'C'.
               88  ACCT-LOAN          VALUE 'L'.
           05  OPEN-DATE              PIC 9(8).
           05  BALANCE                PIC S9(11)V99 COMP-3.
           05  CREDIT-LIMIT           PIC S9(9)V99  COMP-3.
           05  INTEREST-RATE          PIC SV9(5)    COMP-3.
           05  TXN-COUNT              PIC S9(9)     COMP.
           05  LAST-TXN-AMOUNT        PIC S9(7)V99.
           05  STATUS-CODE            PIC XX.
               88  STATUS-ACTIVE      VALUE 'AC'.
               88  STATUS-DORMANT     VALUE 'DO'.
               88  STATUS-CLOSED      VALUE 'CL'.
           05  RISK-SCORE             PIC S9(4)     COMP.
           05  BONUS-POINTS           PIC 9(7)      COMP-3.
           05  FILLER                 PIC X(10).

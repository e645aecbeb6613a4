000100*================================================================ BANKMAST
000200* BANKMAST - RETAIL BANK CUSTOMER ACCOUNT MASTER RECORD           BANKMAST
000300*   FILE  : PROD.BANK.ACCTMAST  RECFM=VB  MAX RECORD 1006 BYTES   BANKMAST
000400*   KEY   : ACCT-KEY (BRANCH + PRODUCT + ACCOUNT NUMBER)          BANKMAST
000500*   MAINT : 2019-03-11 JRH  ADDED FOREIGN ADDRESS FORMAT          BANKMAST
000600*           2021-07-02 MKT  ADDED NATIONAL NAME, RATE TIERS       BANKMAST
000700*           2023-01-16 SLP  TXN HISTORY NOW OCCURS DEPENDING ON   BANKMAST
000800*================================================================ BANKMAST
000900 01  BANK-ACCOUNT-MASTER.                                         BANKMAST
001000*---------------------------------------------------------------
001100*   RECORD CONTROL AND KEY
001200*---------------------------------------------------------------
001300     05  BAM-RECORD-TYPE             PIC X.                       BANKMAST
001400         88  BAM-HEADER-RECORD       VALUE 'H'.
001500         88  BAM-DETAIL-RECORD       VALUE 'D'.
001600         88  BAM-TRAILER-RECORD      VALUE 'T'.
001700     05  ACCT-KEY-AREA.                                           BANKMAST
001800         10  ACCT-BANK-ID            PIC 9(4).
001900         10  ACCT-BRANCH             PIC 9(5).
002000         10  ACCT-PRODUCT-CODE       PIC XXX.
002100         10  ACCT-NUMBER             PIC 9(10).
002200         10  ACCT-CHECK-DIGIT        PIC 9.
002300     05  ACCT-STATUS-CODE            PIC X VALUE 'A'.             BANKMAST
002400         88  ACCT-ACTIVE             VALUE 'A'.
002500         88  ACCT-DORMANT            VALUE 'D'.
002600         88  ACCT-FROZEN             VALUE 'F'.
002700         88  ACCT-CLOSED             VALUES ARE 'C' 'X'.
002800     05  ACCT-TYPE                   PIC IS 99.                   BANKMAST
002900         88  ACCT-TYPE-CHECKING      VALUES ARE 01 THRU 09.
003000         88  ACCT-TYPE-SAVINGS       VALUE 10 THRU 19.
003100         88  ACCT-TYPE-LOAN          VALUES 20 THRU 39, 45.
003200     05  ACCT-CURRENCY	PIC X(3) VALUE 'USD'.
003300     05  ACCT-LAST-MAINT-TS.                                      BANKMAST
003400         10  ACCT-MAINT-DATE         PIC 9(8).
003500         10  ACCT-MAINT-TIME         PIC 9(6).
003600         10  ACCT-MAINT-USER         PIC X(8) USAGE IS DISPLAY
003700                                     VALUE SPACES.
003800     05  FILLER                      PIC X(4) VALUE SPACES.       BANKMAST
003900/
004000*---------------------------------------------------------------
004100*   CUSTOMER IDENTIFICATION
004200*---------------------------------------------------------------
004300     05  CUST-INFO.                                               BANKMAST
004400         10  CUST-ID                 PIC 9(9) COMP-3.
004500         10  CUST-TAX-ID             PIC X(9).
004600         10  CUST-TAX-ID-N REDEFINES CUST-TAX-ID
004700                                     PIC 9(9).
004800         10  CUST-NAME.
004900             15  CUST-LAST-NAME      PIC X(25).
005000             15  CUST-FIRST-NAME     PIC X(15).
005100             15  CUST-MIDDLE-INIT    PICTURE A.
005200             15  CUST-NAME-SUFFIX    PIC X(4) JUST RIGHT.
005300         10  CUST-NAME-NATIONAL      PIC N(20).
005400         10  CUST-BIRTH-DATE         PIC 9(8).
005500         10  CUST-BIRTH-DATE-R REDEFINES CUST-BIRTH-DATE.
005600             15  CUST-BIRTH-CCYY     PIC 9(4).
005700             15  CUST-BIRTH-MM       PIC 99.
005800             15  CUST-BIRTH-DD       PIC 99.
005900         10  CUST-SEGMENT            PIC XX.
006000             88  CUST-SEG-RETAIL     VALUE 'RT'.
006100             88  CUST-SEG-PRIVATE    VALUE 'PB'.
006200             88  CUST-SEG-BUSINESS   VALUES ARE 'SB' 'CB'.
006300         10  cust-email              pic x(50).
006400         10  CUST-PHONE              PIC 9(10) OCCURS 3 TIMES
006500                                     INDEXED BY CUST-PHONE-IDX.
006600*---------------------------------------------------------------
006700*   MAILING ADDRESS - DOMESTIC OR FOREIGN FORMAT
006800*---------------------------------------------------------------
006900     05  CUST-ADDRESS.                                            BANKMAST
007000         10  ADDR-TYPE-IND           PIC X.
007100             88  ADDR-IS-DOMESTIC    VALUE 'D'.
007200             88  ADDR-IS-FOREIGN     VALUE 'F'.
007300         10  ADDR-DOMESTIC.
007400             15  ADDR-STREET-1       PIC X(30).
007500             15  ADDR-STREET-2       PIC X(30).
007600             15  ADDR-CITY           PIC X(20).
007700             15  ADDR-STATE          PIC XX.
007800             15  ADDR-ZIP-5          PIC 9(5).
007900             15  ADDR-ZIP-4          PIC 9(4).
008000             15  FILLER              PIC X(9).
008100         10  ADDR-FOREIGN REDEFINES ADDR-DOMESTIC.
008200             15  ADDR-FRGN-LINE-1    PIC X(35).
008300             15  ADDR-FRGN-LINE-2    PIC X(35).
008400             15  ADDR-FRGN-POSTCODE  PIC X(10).
008500             15  ADDR-FRGN-COUNTRY   PIC X(3).
008600/
008700*---------------------------------------------------------------
008800*   BALANCES AND LIMITS (PACKED DECIMAL)
008900*---------------------------------------------------------------
009000     05  ACCT-BALANCES.                                           BANKMAST
009100         10  CURRENT-BAL.
009200             15  AMOUNT              PIC S9(13)V99 COMP-3.
009300             15  BAL-AS-OF-DATE      PIC 9(8).
009400         10  PREVIOUS-BAL.
009500             15  AMOUNT              PIC S9(13)V99
009600                                     COMPUTATIONAL-3.
009700             15  PREV-BAL-DATE       PIC 9(8).
009800         10  AVAILABLE-BAL           PIC S9(11)V99 PACKED-DECIMAL.
009900         10  HOLD-AMOUNT             PIC S9(9)V99 USAGE IS COMP-3.
010000         10  CREDIT-LIMIT            PIC 9(9)V99 COMP-3.
010100         10  ACCT-OVERDRAFT-PROTECTION-LIMIT-AMOUNT
010200                                     PIC S9(7)V99 COMP-3.
010300         10  APPROVED-LIMIT-HUNDREDS PIC 9(3)PP.
010400*---------------------------------------------------------------
010500*   ACTIVITY COUNTERS (BINARY, SOME SYNCHRONIZED)
010600*---------------------------------------------------------------
010700     05  ACCT-COUNTERS.                                           BANKMAST
010800         10  TXN-COUNT-MTD           PIC S9(4) COMP.
010900         10  STMT-CYCLE-DAY          PIC 99.
011000         10  STMT-FREQ-CODE          PIC X.
011100             88  STMT-MONTHLY        VALUE 'M'.
011200             88  STMT-QUARTERLY      VALUE 'Q'.
011300         10  TXN-COUNT-YTD           PIC S9(9) COMP SYNC.
011400         10  NSF-COUNT               PIC 9(4) BINARY.
011500         10  LAST-STMT-SEQ           PIC S9(18) COMP-4
011600                                     SYNCHRONIZED.
011700         10  ONLINE-LOGIN-COUNT      PIC S9(9) COMP-5.
011800         10  MAX-DAILY-TXNS          PIC 9(4) COMP-5.
011900         10  RETRY-LIMIT             PIC S9(4)
012000                                     USAGE IS BINARY SYNC.
012100         10  OD-FEE-WAIVE-FLAG       PIC X.
012200         10  OD-FEE-WAIVE-COUNT      PIC S9(3) COMP SYNC.
012300*---------------------------------------------------------------
012400*   INTEREST RATES AND TAX
012500*---------------------------------------------------------------
012600     05  ACCT-RATES.                                              BANKMAST
012700         10  INT-RATE-TYPE           PIC X.
012800             88  INT-RATE-FIXED      VALUE 'F'.
012900             88  INT-RATE-VARIABLE   VALUE 'V'.
013000         10  INT-RATE-FLOAT          COMP-1 SYNC.
013100         10  INT-ACCRUED-FLOAT       USAGE IS COMP-2.
013200         10  RATE-SPREAD-FLOAT       COMP-2 SYNC.
013300         10  RATE-TIERS              USAGE IS COMP-3.
013400             15  BASE-RATE           PIC S9(3)V9(4).
013500             15  BONUS-RATE          PIC S9V9(5).
013600             15  PENALTY-RATE        PIC 9(2)V9(3).
013700         10  MARGIN-RATE-FRACTION    PIC VPP99.
013800         10  RESERVE-RATIO           PIC PP99.
013900         10  TAX-WITHHOLD-PCT        PIC 999V99.
014000         10  FX-ADJUSTMENT           PIC S9(4)V9(2)
014100                                     SIGN IS LEADING.
014200         10  YTD-INTEREST-PAID       PIC S9(7)V99
014300                                     SIGN LEADING SEPARATE.
014400         10  YTD-FEES-CHARGED        PIC S9(5)V99
014500                     SIGN IS TRAILING SEPARATE CHARACTER.
014600*---------------------------------------------------------------
014700*   DATES
014800*---------------------------------------------------------------
014900     05  ACCT-DATES.                                              BANKMAST
015000         10  ACCT-OPEN-DATE          PIC 9(8).
015100         10  ACCT-CLOSE-DATE         PIC 9(8) VALUE ZEROS.
015200         10  LAST-ACTIVITY-DATE      PIC S9(7) COMP-3.
015300         10  NEXT-REVIEW-DATE        PIC X(10) DISPLAY.
015400*---------------------------------------------------------------
015500*   STATEMENT PRINT IMAGE (EDITED, FILLED BY BAMSTMT)
015600*---------------------------------------------------------------
015700     05  STMT-PRINT-FIELDS.                                       BANKMAST
015800         10  STMT-BAL-EDITED         PIC ZZZ,ZZ9.99-.
015900         10  STMT-CREDIT-EDITED      PIC $$$,$$9.99CR.
016000         10  STMT-TXN-CNT-EDITED     PIC +ZZ9.
016100         10  STMT-DATE-EDITED        PIC 99/99/99.
016200         10  STMT-FEE-EDITED         PIC ZZ9.99DB.
016300         10  STMT-RATE-EDITED        PIC ZZ9.99 BLANK WHEN ZERO.
016400         10  STMT-APR-EDITED         PICTURE IS 99.999.
016500/
016600*---------------------------------------------------------------
016700*   AUTHORIZED SIGNERS AND HISTORY TABLES
016800*---------------------------------------------------------------
016900     05  ACCT-SIGNERS OCCURS 2 TIMES INDEXED BY SIGNER-IDX.       BANKMAST
017000         10  SIGNER-CUST-ID          PIC 9(9) COMP-3.
017100         10  SIGNER-ROLE             PIC X.
017200             88  SIGNER-PRIMARY      VALUE 'P'.
017300             88  SIGNER-JOINT        VALUE 'J'.
017400             88  SIGNER-POA          VALUE 'A'.
017500         10  SIGNER-DAILY-LIMIT      PIC S9(7)V99 COMP-3.
017600     05  TXN-HIST-COUNT              PIC S9(4) COMP.              BANKMAST
017700     05  MONTH-END-BAL               PIC S9(11)V99 COMP-3         BANKMAST
017800                                     OCCURS 12 TIMES.
017900     05  QUARTER-STATS               OCCURS 4.                    BANKMAST
018000         10  QTR-AVG-BAL             PIC S9(9)V99 COMP-3.
018100         10  QTR-FEE-COUNT           PIC 9(3) OCCURS 3 TIMES.
018200     05  ACCT-REMARKS.                                            BANKMAST
018300         49  ACCT-REMARKS-LEN        PIC S9(4) COMP.
018400         49  ACCT-REMARKS-TEXT       PIC X(60).
018500     05  ACCT-SPECIAL-HANDLING       PIC X(80).                   BANKMAST
018600         88  ACCT-LEGAL-HOLD-NOTICE  VALUE 'ACCOUNT UNDER LEGAL HOBANKMAST
018700-            'LD - REFER ALL INQUIRIES TO CORPORATE COMPLIANCE'.
018800         88  ACCT-NO-SPECIAL-HANDLING VALUE SPACES.
018900     05  FILLER                      PIC X(10).                   BANKMAST
019000     05  TXN-HISTORY OCCURS 1 TO 5 TIMES                          BANKMAST
019100                     DEPENDING ON TXN-HIST-COUNT
019200                     INDEXED BY TXN-IDX.
019300         10  TXN-DATE                PIC 9(8).
019400         10  TXN-TYPE-CODE           PIC XX.
019500             88  TXN-DEPOSIT         VALUE 'DP'.
019600             88  TXN-WITHDRAWAL      VALUES ARE 'WD' 'AT'.
019700         10  TXN-AMOUNT              PIC S9(9)V99 COMP-3.
019800         10  TXN-CHANNEL             PIC X.
019900 66  ACCT-KEY RENAMES ACCT-BRANCH THRU ACCT-NUMBER.               BANKMAST
